// Benchmark: who gets told, how fast. 20 incidents on the local stack, each asking approval; a
// real Alertmanager (group_wait 1s) routes each request to a receiver standing in for Slack or
// PagerDuty. request_to_notified: from the hold opening (the workflow's own clock, in its
// evidence) to the receiver holding the notification; decided_to_resolved: from the approval sent
// to the resolved notification arriving. One machine, one clock. Writes bench/results/notify.json.
import { join } from 'node:path';
import { decide, startRemediation } from '../client/incidents';
import { DECISION_REQUIRED } from '../decisions/alert-requests';
import { signProof } from '../decisions/decision-proof';
import { parseDuration } from '../decisions/duration';
import { workflowIdFor } from '../decisions/vocabulary';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import { FakeGitlab } from '../test/fake-gitlab/server';
import { startAlertmanager } from '../test/stack/alertmanager';
import { startAlertReceiver, type Received } from '../test/stack/alert-receiver';
import { Helm } from '../test/stack/helm';
import { startTemporal } from '../test/stack/temporal';
import { runBench, writeResult } from './lib/result';
import { benchWorker, median, startBenchStack, stuckRun } from './lib/stack';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const GROUP_WAIT = '1s';
const TOKEN = 'glpat-bench';
const NOOP = '$ helmfile -e gprd diff --detailed-exitcode\nComparing release=web, chart=tiny, namespace=x\nNo affected releases\n';

const p99 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
};

async function waitForHold(handle: Awaited<ReturnType<typeof startRemediation>>['handle']): Promise<RemediationStatus> {
  for (;;) {
    const s = await handle.query(statusQuery);
    if (s.hold === 'approval') return s;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main() {
  const stack = await startBenchStack();
  const env = await startTemporal(stack.bins.temporal);
  const gitlab = new FakeGitlab({ token: TOKEN });
  await gitlab.start();
  const receiver = await startAlertReceiver();
  const am = await startAlertmanager({ webhookUrl: receiver.url, bearerToken: 'bench-receiver', groupBy: ['...'], groupWait: GROUP_WAIT });
  try {
    const taskQueue = 'bench-notify';
    const { worker, key } = await benchWorker({ env, stack, gitlabUrl: gitlab.url, token: TOKEN, prefix: 'notify', runs: RUNS + 1, taskQueue, extra: { alertmanager: { url: am.url, externalUrl: 'https://helm-unstuck.example.test' } } });
    gitlab.onRetry = (p, job) => gitlab.setJob(p, job.id, 'success', NOOP);
    const helm = new Helm(3, stack.bins.helm3, stack.cp.kubeconfig, join(stack.dir, 'helm3'));
    const arrived = async (pred: (a: Received) => boolean): Promise<Received> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const a = receiver.received.find(pred);
        if (a) return a;
        if (Date.now() > deadline) throw new Error('no notification within 60 s');
        await new Promise((r) => setTimeout(r, 2));
      }
    };

    const samples: { request_to_notified_ms: number; decided_to_resolved_ms: number }[] = [];
    await worker.runUntil(async () => {
      for (let i = 0; i < RUNS + 1; i++) {
        const o = { release: `web-${i}`, namespace: `bench-n${i}` };
        await stuckRun(helm, gitlab, stack, i, o);
        const cluster = `notify-${i}`;
        const id = workflowIdFor(cluster, o.namespace, o.release);
        const { handle } = await startRemediation(env.client, { cluster, ...o, trigger: { source: 'api', by: 'bench' } }, taskQueue);
        const s = await waitForHold(handle);
        const opened = Date.parse(s.evidence.findLast((e) => e.kind === 'wait' && e.summary.startsWith('waiting for approval'))!.at);
        const mine = (status: string) => (a: Received) => a.labels.incident === id && a.labels.alertname === DECISION_REQUIRED && a.status === status;
        const notified = await arrived(mine('firing'));
        const d = { action: 'approve' as const, by: 'alice', reason: 'bench', plan: s.view.plan!.digest };
        const binding = { run: s.run ?? '', hold: 'approval' as const, seq: s.holdSeq ?? 0 };
        const decided = Date.now();
        await decide(env.client, id, { ...d, proof: signProof(id, d, { ...binding, verifiedBy: 'token', via: 'api', principal: 'token:alice', at: new Date().toISOString() }, key) });
        const resolved = await arrived(mine('resolved'));
        const result = await handle.result();
        if (result.outcome !== 'unstuck-and-verified') throw new Error(`run ${i}: ${result.outcome}: ${result.reason}`);
        if (i === 0) continue; // warm-up
        samples.push({ request_to_notified_ms: notified.at - opened, decided_to_resolved_ms: resolved.at - decided });
      }
    });
    const groupWaitMs = parseDuration(GROUP_WAIT)!;
    const requestP99 = p99(samples.map((x) => x.request_to_notified_ms));
    const result = {
      benchmark: 'notify',
      what: `hold opening (workflow evidence time) to the receiver holding Alertmanager's notification; approval sent to the resolved notification arriving; ${RUNS} incidents, one at a time; Alertmanager group_wait ${GROUP_WAIT}, group_interval 1s`,
      request_to_notified_p99_ms: requestP99,
      request_to_notified_median_ms: median(samples.map((x) => x.request_to_notified_ms)),
      notify_ratio: Math.round((requestP99 / (groupWaitMs + 1000)) * 1000) / 1000,
      decided_to_resolved_p99_ms: p99(samples.map((x) => x.decided_to_resolved_ms)),
      decided_to_resolved_median_ms: median(samples.map((x) => x.decided_to_resolved_ms)),
      target: { notify_ratio: '<= 1.2' },
      alertmanager_group_wait_ms: groupWaitMs,
      runs: samples,
      at: new Date().toISOString(),
    };
    writeResult('notify', result, ['request_to_notified_p99_ms', 'notify_ratio', 'decided_to_resolved_p99_ms']);
  } finally {
    await am.stop();
    await receiver.stop();
    await gitlab.stop();
    await env.teardown();
    await stack.stop();
  }
}

runBench(main);
