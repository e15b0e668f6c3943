// Benchmark: an alert storm against `helm-unstuck serve` and the real Temporal dev server.
// 10,000 webhooks of one alert each (the worst case: Alertmanager usually batches) over 100
// releases on keep-alive connections, from a load generator on its own thread. Run once per
// sender concurrency in SWEEP, each against a fresh server and task queue. The headline figures
// (alerts_per_second, p50_ms, p99_ms, workflows_started) are the run at HEADLINE concurrency;
// the sweep shows where the server saturates and what more senders then cost in latency.
// Writes bench/results/alert-storm.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { counted } from '../server/metrics';
import { serve } from '../server/serve';
import { binaries, removeDir, tempDir } from '../test/stack/process';
import { startTemporal } from '../test/stack/temporal';
import { runBench, writeResult } from './lib/result';
import { pct, storm, stormPayload, STORM_RELEASES } from './lib/storm';

const ALERTS = Number(process.env.BENCH_ALERTS ?? 10_000);
const RELEASES = STORM_RELEASES;
const SWEEP = (process.env.BENCH_CONCURRENCY ?? '8,16,32,64').split(',').map(Number);
const HEADLINE = 16;
const TOKEN = 'bench-webhook-token-0123456789';

async function runOnce(concurrency: number, temporal: Awaited<ReturnType<typeof startTemporal>>) {
  const env = temporal;
  const dir = tempDir('storm');
  const taskQueue = `storm-${concurrency}-${Date.now()}`;
  const config = join(dir, 'config.yaml');
  writeFileSync(config, JSON.stringify({ clusters: { gprd: { gitlab: [{ project: 1, environment: 'gprd' }] } }, policy: { approvers: ['alice'] }, server: { listen: '127.0.0.1:0' } }));
  const svc = await serve({
    env: { ...process.env, HELM_UNSTUCK_CONFIG: config, HELM_UNSTUCK_WEBHOOK_TOKEN: TOKEN, TEMPORAL_ADDRESS: env.address, HELM_UNSTUCK_TASK_QUEUE: taskQueue },
    withWorker: false,
    withDetector: false, // the receiver alone is measured; no cluster here to watch
    log: () => undefined,
  });
  try {
    const bodies = Array.from({ length: ALERTS }, (_, i) => stormPayload(i, `c${concurrency}`));
    const { seconds, statuses, latencies } = await storm(`${svc.url}/webhook/alertmanager`, TOKEN, bodies, concurrency);
    let workflows = 0;
    for await (const _ of svc.client.workflow.list({ query: `WorkflowType = 'remediateStuckRelease' AND TaskQueue = '${taskQueue}'` })) workflows++;
    return {
      concurrency,
      alerts_per_second: Math.round(ALERTS / seconds),
      p50_ms: Math.round(pct(latencies, 50) * 100) / 100,
      p99_ms: Math.round(pct(latencies, 99) * 100) / 100,
      max_ms: Math.round(latencies[latencies.length - 1]! * 100) / 100,
      workflows_started: workflows,
      responses: statuses,
      temporal_calls: (await counted(svc.metrics.alerts, { result: 'started' })) + (await counted(svc.metrics.alerts, { result: 'joined' })),
      seconds: Math.round(seconds * 100) / 100,
    };
  } finally {
    await svc.close();
    await removeDir(dir);
  }
}

async function main() {
  const bins = await binaries();
  const temporal = await startTemporal(bins.temporal);
  try {
    const runs = [];
    for (const c of SWEEP) {
      const r = await runOnce(c, temporal);
      console.error(`bench: ${c} senders: ${r.alerts_per_second} alerts/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.workflows_started} workflows`);
      if (r.workflows_started !== RELEASES) throw new Error(`${c} senders: started ${r.workflows_started} workflows, expected ${RELEASES}`);
      runs.push(r);
    }
    const head = runs.find((r) => r.concurrency === HEADLINE) ?? runs[0]!;
    const result = {
      benchmark: 'alert-storm',
      what: `${ALERTS} Alertmanager webhooks of one alert each over ${RELEASES} releases against helm-unstuck serve and the Temporal dev server; headline at ${head.concurrency} concurrent senders, sweep below`,
      alerts_per_second: head.alerts_per_second,
      p50_ms: head.p50_ms,
      p99_ms: head.p99_ms,
      workflows_started: head.workflows_started,
      targets: { alerts_per_second: '>= 2000', p99_ms: '<= 50', workflows_started: RELEASES },
      sweep: runs,
      at: new Date().toISOString(),
    };
    writeResult('alert-storm', result, ['alerts_per_second', 'p50_ms', 'p99_ms', 'workflows_started']);
  } finally {
    await temporal.teardown();
  }
}

runBench(main);
