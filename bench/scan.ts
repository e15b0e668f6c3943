// Benchmark: `helm-unstuck scan` against real `helm list --all -A` on the same API server holding
// 500 releases × 10 revisions of realistic size. Wall time and bytes received from the API server
// (counted by a proxy both go through). Writes bench/results/scan.json.
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kube } from '../activities/kubernetes';
import { scan } from '../activities/release';
import { seedReleases } from './lib/seed';
import { runBench, writeResult } from './lib/result';
import { median, startBenchStack } from './lib/stack';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const shape = {
  namespaces: 50,
  releasesPerNamespace: 10,
  revisions: 10,
  // ~24 KB of manifest and templates per revision before gzip: a mid-sized chart.
  payloadChars: 24_000,
  stuck: 5,
};

async function main() {
  const stack = await startBenchStack();
  try {
    const t0 = Date.now();
    const seeded = await seedReleases(stack.kc, shape);
    console.error(`bench: seeded ${seeded.releases} releases, ${seeded.records} records (mean ${seeded.meanRecordBytes} B) in ${Date.now() - t0} ms`);

    const run = promisify(execFile);
    const helmEnv = (home: string) => ({
      ...process.env,
      KUBECONFIG: stack.kubeconfig,
      HELM_CACHE_HOME: join(stack.dir, home, 'cache'),
      HELM_CONFIG_HOME: join(stack.dir, home, 'config'),
      HELM_DATA_HOME: join(stack.dir, home, 'data'),
    });
    async function measure(fn: () => Promise<number>): Promise<{ ms: number; bytes: number; count: number }> {
      stack.counter.reset();
      const start = process.hrtime.bigint();
      const count = await fn();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      return { ms, bytes: stack.counter.received(), count };
    }
    const helmList = (bin: string, major: number) => async () => {
      const args = ['list', '-A', '-o', 'json', '--max', '0', ...(major === 3 ? ['--all'] : [])];
      const { stdout } = await run(bin, args, { env: helmEnv(`helm${major}`), maxBuffer: 1 << 30 });
      return (JSON.parse(stdout) as unknown[]).length;
    };
    const ours = async () => {
      const kube = Kube.fromKubeconfig({ file: stack.kubeconfig });
      return (await scan(kube, { cluster: 'bench' }, Date.now())).stuck.length;
    };

    const samples: Record<string, { ms: number; bytes: number; count: number }[]> = { helm3: [], helm4: [], ours: [] };
    // One warm-up each (API server caches, page cache), then RUNS measured rounds, interleaved.
    await helmList(stack.bins.helm3, 3)();
    await helmList(stack.bins.helm4, 4)();
    await ours();
    for (let i = 0; i < RUNS; i++) {
      samples.helm3!.push(await measure(helmList(stack.bins.helm3, 3)));
      samples.helm4!.push(await measure(helmList(stack.bins.helm4, 4)));
      samples.ours!.push(await measure(ours));
    }
    const summary = (k: string) => ({
      median_ms: Math.round(median(samples[k]!.map((s) => s.ms)) * 10) / 10,
      bytes_received: median(samples[k]!.map((s) => s.bytes)),
      found: samples[k]![0]!.count,
      runs_ms: samples[k]!.map((s) => Math.round(s.ms)),
    });
    const helm3 = summary('helm3');
    const helm4 = summary('helm4');
    const us = summary('ours');
    if (helm3.found !== seeded.releases || helm4.found !== seeded.releases) {
      throw new Error(`helm listed ${helm3.found}/${helm4.found} releases, expected ${seeded.releases}`);
    }
    if (us.found !== seeded.stuck.length) throw new Error(`scan found ${us.found} stuck releases, expected ${seeded.stuck.length}`);
    // Compare against the faster and leaner of the two helm majors: the conservative ratio.
    const helmMs = Math.min(helm3.median_ms, helm4.median_ms);
    const helmBytes = Math.min(helm3.bytes_received, helm4.bytes_received);
    const result = {
      benchmark: 'scan',
      what: 'helm-unstuck scan (all namespaces) vs helm list --all -A -o json, same API server, same byte-counting proxy',
      speedup: Math.round((helmMs / us.median_ms) * 10) / 10,
      bytes_ratio: Math.round((us.bytes_received / helmBytes) * 1e5) / 1e5,
      targets: { speedup: '>= 20', bytes_ratio: '<= 0.05' },
      ours: us,
      helm_v3: helm3,
      helm_v4: helm4,
      cluster: { ...shape, releases: seeded.releases, records: seeded.records, mean_record_bytes: seeded.meanRecordBytes, kubernetes: stack.cp.version },
      machine: { cpus: cpus().length, node: process.version },
      at: new Date().toISOString(),
    };
    const { speedup, bytes_ratio } = result;
    writeResult('scan', result, { speedup, bytes_ratio, ours_ms: us.median_ms, helm_v3_ms: helm3.median_ms, helm_v4_ms: helm4.median_ms, ours_bytes: us.bytes_received, helm_v3_bytes: helm3.bytes_received });
  } finally {
    await stack.stop();
  }
}

runBench(main);
