// Benchmark: helm-unstuck as the fleet grows. Every figure is a ratio within this one run (the
// baseline and ours measured here, interleaved where both can run), because the machine is shared
// and absolute times swing between runs. Writes bench/results/scale.json.
//
// - scan: two API servers, 500 and 2,000 releases × 10 revisions (records in Helm's storage
//   format, 5 stuck in each). Rounds interleave our scan of each with `helm list --all -A` (v3 and
//   v4) of the big one: scan_speedup (helm ÷ ours at 2,000), scan_flatness (ours 2,000 ÷ ours 500).
// - concurrent: 100 stuck releases started at once under the operator's auto-approve policy, on
//   the `helm-unstuck worker` command in a process of its own (its peak RSS from /proc), after one
//   incident alone on the same worker: all verified, time to the last, and that time ÷ the lone one.
// - storm: the alert storm at 16 senders against `serve` and against a bare node:http JSON
//   receiver, same generator, rounds alternating: storm_ratio (ours ÷ bare alerts/s), ours' p99.
// - replay: 1,000 histories (the golden ones, repeated under new ids) replayed on one worker.
// BENCH_SCALE_ONLY=scan,storm runs only those; BENCH_SCALE_SMALL=1 a tenth of the sizes, to try it
// (either writes to a temp folder, not bench/results); BENCH_SCALE_WAVES=100,300 other wave sizes
// (with BENCH_SCALE_SMALL or BENCH_SCALE_RESULT, to try them); BENCH_SCALE_BUILT=1 skips `npm run build`;
// BENCH_SCALE_RESULT=FILE writes there instead of bench/results/scale.json.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { Kube } from '../activities/kubernetes';
import { scan } from '../activities/release';
import { startRemediation } from '../client/incidents';
import type { RemediationInput } from '../decisions/schemas';
import { eventTimeMs } from '../report/incident';
import { serve } from '../server/serve';
import { FakeGitlab } from '../test/fake-gitlab/server';
import { writeKubeconfig } from '../test/stack/control-plane';
import { binaries, removeDir, tempDir } from '../test/stack/process';
import { startTemporal } from '../test/stack/temporal';
import type { RemediationResult } from '../workflows/definitions';
import { seedReleases } from './lib/seed';
import { RESULTS_DIR, runBench, writeResult } from './lib/result';
import { median, startBenchStack, type BenchStack } from './lib/stack';
import { pct, storm, stormPayload } from './lib/storm';
import { parse as parseYaml } from 'yaml';

const SMALL = process.env.BENCH_SCALE_SMALL === '1';
const ONLY = (process.env.BENCH_SCALE_ONLY ?? 'scan,concurrent,storm,replay').split(',');
const ROOT = join(__dirname, '..');
const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---- scan ------------------------------------------------------------------------------------

const SCAN_RUNS = Number(process.env.BENCH_RUNS ?? 3);
const fleetShape = (releases: number) => ({
  namespaces: releases / 10,
  releasesPerNamespace: 10,
  revisions: 10,
  payloadChars: 24_000, // as bench/scan.ts: about 15 KB per record as stored
  stuck: 5,
});

async function scanSection(base: BenchStack, big: BenchStack) {
  const small = SMALL ? 50 : 500;
  const large = SMALL ? 200 : 2000;
  const t0 = Date.now();
  const [seededBase, seededBig] = await Promise.all([seedReleases(base.kc, fleetShape(small)), seedReleases(big.kc, fleetShape(large))]);
  console.error(`bench: seeded ${seededBase.records} + ${seededBig.records} records in ${Math.round((Date.now() - t0) / 1000)} s`);

  const run = promisify(execFile);
  // On a loaded machine helm's one list of every record (about 300 MB at 2,000 × 10) can outlast
  // the API server's 60 s request timeout, which cuts the stream: such a run is counted, and timed
  // again. The figures are from runs that finished.
  const helmFailures: Record<string, string[]> = { helm_v3_2000: [], helm_v4_2000: [] };
  const helmList = (major: 3 | 4) => async (): Promise<number> => {
    const bin = major === 3 ? big.bins.helm3 : big.bins.helm4;
    const home = join(big.dir, `helm${major}`);
    const env = { ...process.env, KUBECONFIG: big.kubeconfig, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
    const { stdout } = await run(bin, ['list', '-A', '-o', 'json', '--max', '0', ...(major === 3 ? ['--all'] : [])], { env, maxBuffer: 1 << 30 });
    return (JSON.parse(stdout) as unknown[]).length;
  };
  const ours = (stack: BenchStack) => async () => (await scan(Kube.fromKubeconfig({ file: stack.kubeconfig }), { cluster: 'bench' }, Date.now())).stuck.length;
  const timed = async (name: string, fn: () => Promise<number>) => {
    for (let attempt = 1; ; attempt++) {
      const start = process.hrtime.bigint();
      try {
        const found = await fn();
        return { ms: Number(process.hrtime.bigint() - start) / 1e6, found };
      } catch (err) {
        const failures = helmFailures[name];
        if (!failures || attempt >= 3) throw err;
        failures.push(`${Math.round(Number(process.hrtime.bigint() - start) / 1e6)} ms: ${String((err as { stderr?: string }).stderr ?? err).trim().slice(0, 200)}`);
      }
    }
  };
  const cases = { ours_500: ours(base), ours_2000: ours(big), helm_v3_2000: helmList(3), helm_v4_2000: helmList(4) };
  const samples: Record<string, { ms: number; found: number }[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [name, fn] of Object.entries(cases)) await timed(name, fn); // warm-up: API server caches, page cache
  // Ours takes tens of milliseconds, where one scheduling hiccup of a shared machine is a large
  // share: five of each size per round (alternating), against one helm list of each major.
  const oursPerRound = 5;
  for (let i = 0; i < SCAN_RUNS; i++) {
    for (let j = 0; j < oursPerRound; j++) {
      for (const name of ['ours_500', 'ours_2000'] as const) samples[name]!.push(await timed(name, cases[name]));
    }
    for (const name of ['helm_v3_2000', 'helm_v4_2000'] as const) samples[name]!.push(await timed(name, cases[name]));
  }
  const summary = (k: string) => ({ median_ms: round(median(samples[k]!.map((s) => s.ms))), runs_ms: samples[k]!.map((s) => Math.round(s.ms)), found: samples[k]![0]!.found });
  const s = Object.fromEntries(Object.keys(cases).map((k) => [k, summary(k)])) as Record<keyof typeof cases, ReturnType<typeof summary>>;
  if (s.helm_v3_2000.found !== seededBig.releases || s.helm_v4_2000.found !== seededBig.releases) throw new Error(`helm listed ${s.helm_v3_2000.found}/${s.helm_v4_2000.found} releases, expected ${seededBig.releases}`);
  if (s.ours_500.found !== 5 || s.ours_2000.found !== 5) throw new Error(`scan found ${s.ours_500.found}/${s.ours_2000.found} stuck releases, expected 5`);
  return {
    // Against the faster of the two helm majors: the conservative ratio.
    scan_speedup: round(Math.min(s.helm_v3_2000.median_ms, s.helm_v4_2000.median_ms) / s.ours_2000.median_ms),
    scan_speedup_v3: round(s.helm_v3_2000.median_ms / s.ours_2000.median_ms),
    scan_speedup_v4: round(s.helm_v4_2000.median_ms / s.ours_2000.median_ms),
    scan_flatness: round(s.ours_2000.median_ms / s.ours_500.median_ms, 2),
    detail: {
      ...s,
      helm_failed_runs: helmFailures,
      clusters: { small: { releases: seededBase.releases, records: seededBase.records }, large: { releases: seededBig.releases, records: seededBig.records }, revisions: 10, stuck: 5, mean_record_bytes: seededBig.meanRecordBytes, kubernetes: big.cp.version },
    },
  };
}

// ---- 100 and 1,000 incidents at once ----------------------------------------------------------

const WAVES = (process.env.BENCH_SCALE_WAVES?.split(',').map(Number) ?? (SMALL ? [20, 200] : [100, 1000])) as [number, number];
const GITLAB_TOKEN = 'glpat-bench-scale';
const NOOP = '$ helmfile -e gprd diff --detailed-exitcode\nComparing release=web, chart=tiny, namespace=x\nNo affected releases\n';
const CHART_VALUES = join(ROOT, 'deploy', 'chart', 'helm-unstuck', 'values.yaml');

/** Peak and current resident memory of a process, from /proc (kB → MB). */
function memoryOf(pid: number): { peakMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMb: round(kb('VmHWM') / 1024), rssMb: round(kb('VmRSS') / 1024) };
}

/** What the chart gives the container: its memory limit and Node's flags (the worker runs with these). */
function chartMemory(): { limit: string; request: string; nodeOptions: string } {
  const values = parseYaml(readFileSync(CHART_VALUES, 'utf8')) as { resources: { limits: { memory: string }; requests: { memory: string } }; nodeOptions: string };
  return { limit: values.resources.limits.memory, request: values.resources.requests.memory, nodeOptions: values.nodeOptions };
}

type Seeded = Awaited<ReturnType<typeof seedReleases>>;

/**
 * One fresh `helm-unstuck worker` (the shipped command, its own process, the chart's NODE_OPTIONS),
 * one incident alone, then `size` started at once; its peak RSS (VmHWM) is the worker's alone.
 */
async function wave(stack: BenchStack, temporal: TestWorkflowEnvironment, stuck: Seeded['stuck'], nodeOptions: string) {
  const gitlab = new FakeGitlab({ token: GITLAB_TOKEN });
  await gitlab.start();
  gitlab.onRetry = (p, job) => gitlab.setJob(p, job.id, 'success', NOOP);
  const taskQueue = `scale-${stuck.length}-${Date.now()}`;
  // The operator's configuration: one cluster, deployed by one GitLab project whose last deploy
  // failed (so the incidents share one job to re-run: the first re-runs it, the rest follow that
  // retry), and a policy that approves stuck releases in advance.
  gitlab.addProject(1000, 'ops/k8s-workloads');
  const failed = gitlab.addJob(1000, { name: 'gprd:upgrade', stage: 'deploy', status: 'failed' });
  gitlab.addDeployment(1000, { environment: 'gprd', status: 'failed', job: failed });
  const dir = tempDir('scale-worker');
  const config = join(dir, 'config.yaml');
  // The API server directly, not through the byte counter: the bench's process relays nothing.
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, { server: stack.cp.server, caFile: stack.cp.caFile, token: stack.cp.adminToken, context: 'bench' });
  writeFileSync(config, JSON.stringify({
    kubeconfig,
    clusters: { bench: { context: 'bench', gitlab: [{ project: 1000, environment: 'gprd' }], admissionPolicy: 'not-required' } },
    policy: { approvers: ['alice'], minPendingAge: '0s', ciPollInterval: '200ms', ciJobTimeout: '10m', autoApprove: { configuredBy: 'bench/scale.ts', reason: 'benchmark: the operator approves stuck releases in advance' } },
  }));
  const worker = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'worker'], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions, HELM_UNSTUCK_CONFIG: config, TEMPORAL_ADDRESS: temporal.address, HELM_UNSTUCK_TASK_QUEUE: taskQueue, HELM_UNSTUCK_GITLAB_URL: gitlab.url, HELM_UNSTUCK_GITLAB_TOKEN: GITLAB_TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let stopping = false;
  worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitFor(() => log.includes('worker serving task queue') || worker.exitCode !== null, 120_000);
    if (worker.exitCode !== null) throw new Error(`the worker exited: ${log}`);
    const atReady = memoryOf(worker.pid!);
    const input = (s: Seeded['stuck'][number]): RemediationInput => ({ cluster: 'bench', namespace: s.namespace, release: s.release, trigger: { source: 'api', by: 'bench' } });
    /** Starts incidents at once; times from the first start to each one's verifyRelease, from history. */
    const incidents = async (releases: Seeded['stuck']) => {
      const started = Date.now();
      const handles = await Promise.all(releases.map(async (r) => (await startRemediation(temporal.client, input(r), taskQueue)).handle));
      const results = (await Promise.all(handles.map((h) => h.result()))) as RemediationResult[];
      const verifiedAt = await Promise.all(handles.map(async (h) => {
        const events = (await h.fetchHistory()).events!;
        const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifyRelease').map((e) => String(e.eventId)));
        const done = events.find((e) => e.activityTaskCompletedEventAttributes && scheduled.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)));
        return done ? eventTimeMs(done) : NaN;
      }));
      return {
        started: releases.length,
        verified: results.filter((r) => r.verification?.verified === true).length,
        outcomes: results.reduce<Record<string, number>>((n, r) => ({ ...n, [r.outcome]: (n[r.outcome] ?? 0) + 1 }), {}),
        last_verified_s: round((Math.max(...verifiedAt) - started) / 1000, 2),
        completed_s: round((Date.now() - started) / 1000, 2),
      };
    };
    // Sampled as well as the high-water mark: when in the wave the worker was at its largest.
    let rssMax = { mb: 0, atS: 0 };
    const t0 = Date.now();
    const sampler = setInterval(() => {
      if (worker.exitCode !== null || worker.signalCode !== null) return;
      const m = memoryOf(worker.pid!).rssMb;
      if (m > rssMax.mb) rssMax = { mb: m, atS: round((Date.now() - t0) / 1000) };
    }, 250);
    // A worker that dies (out of memory) fails the wave with its last words, not a wait for ever.
    const died = new Promise<never>((_, reject) => worker.once('exit', (code, signal) => {
      const err = new Error(`the worker exited (${code ?? signal}) during the wave: ${log.slice(-3000)}`);
      if (!stopping) console.error(`bench: ${err.message}`);
      reject(err);
    }));
    died.catch(() => undefined); // the kill at the end
    const alone = await Promise.race([incidents(stuck.slice(0, 1)), died]); // one incident alone first, on the same worker
    const fleet = await Promise.race([incidents(stuck.slice(1)), died]).finally(() => clearInterval(sampler));
    const mem = memoryOf(worker.pid!);
    return { alone, fleet, rss_mb: { ready: atReady.rssMb, end: mem.rssMb, peak: mem.peakMb, sampled_max: rssMax.mb, sampled_max_at_s: rssMax.atS }, ci_retries: gitlab.retries().length };
  } finally {
    stopping = true;
    worker.kill('SIGTERM');
    await waitFor(() => worker.exitCode !== null || worker.signalCode !== null, 30_000).catch(() => worker.kill('SIGKILL'));
    await gitlab.stop();
    await removeDir(dir);
  }
}

async function concurrentSection(stack: BenchStack, temporal: TestWorkflowEnvironment) {
  // The worker is the shipped command, built from this tree (with its prebuilt workflow bundle).
  if (!process.env.BENCH_SCALE_BUILT) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const chart = chartMemory();
  // Each wave its own releases (a verified one is no longer stuck), plus one for its lone incident.
  // What an incident reads: its release's deployed and pending revisions (two records, each about
  // 15 KB as stored, as bench/scan.ts's).
  const total = WAVES.reduce((n, w) => n + w + 1, 0);
  const t0 = Date.now();
  const seeded = await seedReleases(stack.kc, { namespaces: Math.ceil(total / 10), releasesPerNamespace: 10, revisions: 2, payloadChars: 24_000, stuck: total });
  if (seeded.stuck.length !== total) throw new Error(`seeded ${seeded.stuck.length} stuck releases, expected ${total}`);
  console.error(`bench: seeded ${seeded.records} records in ${Math.round((Date.now() - t0) / 1000)} s`);
  const waves: Record<number, Awaited<ReturnType<typeof wave>>> = {};
  let next = 0;
  for (const size of WAVES) {
    waves[size] = await wave(stack, temporal, seeded.stuck.slice(next, next + size + 1), chart.nodeOptions);
    next += size + 1;
    console.error(`bench: ${size} at once: ${JSON.stringify(waves[size])}`);
  }
  const [small, large] = WAVES.map((w) => waves[w]!) as [Awaited<ReturnType<typeof wave>>, Awaited<ReturnType<typeof wave>>];
  const allVerified = WAVES.every((w) => waves[w]!.alone.verified === 1 && waves[w]!.fleet.verified === w);
  const [n, m] = WAVES as [number, number];
  return {
    concurrent_all_verified: allVerified,
    concurrent_last_verified_s: small.fleet.last_verified_s,
    concurrent_vs_alone: round(small.fleet.last_verified_s / small.alone.last_verified_s),
    [`concurrent_last_verified_s_${m}`]: large.fleet.last_verified_s,
    [`worker_peak_rss_mb_${n}`]: small.rss_mb.peak,
    [`worker_peak_rss_mb_${m}`]: large.rss_mb.peak,
    rss_growth_ratio: round(large.rss_mb.peak / small.rss_mb.peak, 3),
    detail: { chart_memory: chart, waves },
  };
}

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- the alert storm against a bare receiver ---------------------------------------------------

const STORM_ALERTS = SMALL ? 2_000 : 10_000;
const STORM_ROUNDS = Number(process.env.BENCH_STORM_ROUNDS ?? 3);
const SENDERS = 16;
const WEBHOOK_TOKEN = 'bench-webhook-token-0123456789';

/** The least a JSON webhook receiver can do: check the token, read and parse the body, answer. */
async function bareReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${WEBHOOK_TOKEN}`) return void res.writeHead(401).end();
      let accepted = 0;
      try {
        accepted = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts: unknown[] }).alerts.length;
      } catch {
        return void res.writeHead(400).end();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/webhook/alertmanager`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function stormSection(temporal: TestWorkflowEnvironment) {
  const dir = tempDir('scale-storm');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, JSON.stringify({ clusters: { gprd: { gitlab: [{ project: 1, environment: 'gprd' }] } }, policy: { approvers: ['alice'] }, server: { listen: '127.0.0.1:0' } }));
  const svc = await serve({
    env: { ...process.env, HELM_UNSTUCK_CONFIG: config, HELM_UNSTUCK_WEBHOOK_TOKEN: WEBHOOK_TOKEN, TEMPORAL_ADDRESS: temporal.address, HELM_UNSTUCK_TASK_QUEUE: `scale-storm-${Date.now()}` },
    withWorker: false,
    withDetector: false,
    log: () => undefined,
  });
  const bare = await bareReceiver();
  try {
    const runs: { who: 'bare' | 'ours'; alerts_per_second: number; p50_ms: number; p99_ms: number; non_2xx: number; latencies: number[] }[] = [];
    // A warm-up of each, then rounds alternating bare and ours; each of ours on new release names,
    // so every round starts its 100 incidents again.
    for (let r = -1; r < STORM_ROUNDS; r++) {
      for (const who of ['bare', 'ours'] as const) {
        const bodies = Array.from({ length: r < 0 ? STORM_ALERTS / 10 : STORM_ALERTS }, (_, i) => stormPayload(i, `scale${r}`));
        const res = await storm(who === 'bare' ? bare.url : `${svc.url}/webhook/alertmanager`, WEBHOOK_TOKEN, bodies, SENDERS);
        if (r < 0) continue;
        const non2xx = Object.entries(res.statuses).reduce((n, [code, c]) => n + (code.startsWith('2') ? 0 : c), 0);
        runs.push({ who, alerts_per_second: Math.round(bodies.length / res.seconds), p50_ms: round(pct(res.latencies, 50), 2), p99_ms: round(pct(res.latencies, 99), 2), non_2xx: non2xx, latencies: res.latencies });
      }
    }
    const of = (who: string) => runs.filter((x) => x.who === who);
    const pooled = of('ours').flatMap((x) => x.latencies).sort((a, b) => a - b);
    if (runs.some((x) => x.non_2xx > 0)) throw new Error(`storm: non-2xx answers ${JSON.stringify(runs.map((x) => x.non_2xx))}`);
    return {
      storm_ratio: round(median(of('ours').map((x) => x.alerts_per_second)) / median(of('bare').map((x) => x.alerts_per_second)), 3),
      storm_p99_ms: round(pct(pooled, 99), 2),
      detail: {
        alerts_per_run: STORM_ALERTS,
        senders: SENDERS,
        rounds: runs.map(({ latencies: _, ...x }) => x),
        ours_alerts_per_second: median(of('ours').map((x) => x.alerts_per_second)),
        bare_alerts_per_second: median(of('bare').map((x) => x.alerts_per_second)),
        bare_p99_ms: round(pct(of('bare').flatMap((x) => x.latencies).sort((a, b) => a - b), 99), 2),
      },
    };
  } finally {
    await bare.close();
    await svc.close();
    await removeDir(dir);
  }
}

// ---- replay ------------------------------------------------------------------------------------

const REPLAYS = SMALL ? 100 : 1000;

async function replaySection() {
  const dir = join(ROOT, 'test', 'histories');
  const golden = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => ({ name: f, json: JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown }));
  const t0 = Date.now();
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: QUIET });
  const bundleS = (Date.now() - t0) / 1000;
  async function* histories() {
    for (let i = 0; i < REPLAYS; i++) {
      const g = golden[i % golden.length]!;
      yield { workflowId: `replay-${i}-${g.name}`, history: historyFromJSON(g.json) };
    }
  }
  const start = process.hrtime.bigint();
  let replayed = 0;
  const failures: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, replayName: 'scale' }, histories())) {
    replayed++;
    if (r.error) failures.push(`${r.workflowId}: ${String(r.error)}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (failures.length) throw new Error(`replay failed: ${failures.slice(0, 3).join('; ')}`);
  return { replay_1000_s: round(seconds * (1000 / REPLAYS), 2), detail: { replayed, seconds: round(seconds, 2), golden: golden.length, bundle_s: round(bundleS, 2), per_history_ms: round((seconds * 1000) / replayed, 2) } };
}

// ---- all ---------------------------------------------------------------------------------------

const RESULT = process.env.BENCH_SCALE_RESULT ?? join(RESULTS_DIR, 'scale.json');
const GOALS = { scan_speedup: '>= 100', scan_flatness: '<= 1.5', concurrent_all_verified: true, worker_peak_rss_mb_100: '<= 400', worker_peak_rss_mb_1000: '<= 400', rss_growth_ratio: '<= 1.2', replay_1000_s: '< 60', storm_ratio: '>= 0.5', storm_p99_ms: '<= 50' };

async function main() {
  // A section run alone (BENCH_SCALE_ONLY) replaces only its own figures in the results file.
  const partial = ONLY.length < 4;
  const previous = partial && !SMALL && existsSync(RESULT) ? (JSON.parse(readFileSync(RESULT, 'utf8')) as { detail?: Record<string, unknown> }) : {};
  const result: Record<string, unknown> = { ...previous, benchmark: 'scale' };
  delete result.worker_peak_rss_mb; // one wave of 100 only, before worker_peak_rss_mb_100 and _1000
  const details: Record<string, unknown> = { ...(previous.detail ?? {}) };
  const take = (section: string, r: { detail: unknown } & Record<string, unknown>, startLoad: number[]) => {
    const { detail, ...figures } = r;
    Object.assign(result, figures);
    details[section] = { ...(detail as object), at: new Date().toISOString(), loadavg_1m: { start: startLoad[0], end: round(loadavg()[0]!, 2) } };
    console.error(`bench: ${section}: ${JSON.stringify(figures)}`);
  };
  const want = (s: string) => ONLY.includes(s);
  const load = () => loadavg().map((x) => round(x, 2));
  let base: BenchStack | undefined;
  let big: BenchStack | undefined;
  let temporal: TestWorkflowEnvironment | undefined;
  try {
    if (want('scan') || want('concurrent')) base = await startBenchStack();
    if (want('scan')) {
      const l = load();
      big = await startBenchStack();
      take('scan', await scanSection(base!, big), l);
      await big.stop();
      big = undefined;
    }
    if (want('concurrent') || want('storm')) temporal = await startTemporal((await binaries()).temporal);
    if (want('concurrent')) {
      const l = load();
      take('concurrent', await concurrentSection(base!, temporal!), l);
    }
    if (want('storm')) {
      const l = load();
      take('storm', await stormSection(temporal!), l);
    }
    if (want('replay')) {
      const l = load();
      take('replay', await replaySection(), l);
    }
  } finally {
    await temporal?.teardown();
    await big?.stop();
    await base?.stop();
  }
  Object.assign(result, {
    goals: GOALS,
    detail: details,
    machine: { cpus: cpus().length, node: process.version, note: 'shared by other jobs: each section records its 1-minute load average at start and end' },
    at: new Date().toISOString(),
  });
  const headline = Object.fromEntries(Object.entries(result).filter(([k]) => !['detail', 'goals', 'machine'].includes(k)));
  writeResult('scale', result, headline, SMALL ? join(tempDir('scale-result'), 'scale.json') : RESULT);
}

runBench(main);
