// `helm-unstuck demo`: the whole incident on this machine, for real. A Kubernetes API server,
// a genuinely stuck Helm release, serve's detector, a real Prometheus evaluating the shipped rule
// and a real Alertmanager raising the alert, the workflow doing the
// runbook, a human (you) approving, and the incident report. GitLab cannot run here, so a local
// stand-in plays the ops instance, as in the tests.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startControlPlane } from '../test/stack/control-plane';
import { removeDir, tempDir } from '../test/stack/process';
import { Helm, TINY_CHART } from '../test/stack/helm';
import { makeStuck } from '../test/stack/stuck';
import { markHealthy } from '../test/stack/deployments';
import { startAlertmanager } from '../test/stack/alertmanager';
import { startPrometheus } from '../test/stack/prometheus';
import { FakeGitlab } from '../test/fake-gitlab/server';
import { serve } from '../server/serve';
import { decide } from '../client/incidents';
import { workflowIdFor, type Outcome } from '../decisions/vocabulary';
import { statusQuery } from '../workflows/definitions';
import type { remediateStuckRelease } from '../workflows/remediate';
import { buildIncidentReport } from '../report/incident';
import { renderMarkdown } from '../report/render';
import { mark } from '../lib/glyphs';
import { CLONE_TOOLS_DIR } from '../lib/repo';

export interface DemoOptions {
  yes: boolean;
  helmMajor: 3 | 4;
  env: NodeJS.ProcessEnv;
  out: (s: string) => void;
  ask?: (q: string, signal: AbortSignal) => Promise<string>;
  /** Aborting it (the CLI does on SIGINT/SIGTERM) cancels the demo's incident and stops everything. */
  signal?: AbortSignal;
}

/** The demo was interrupted; its incident was cancelled (or, failing that, terminated). */
export class DemoInterrupted extends Error {}

/** How long the demo waits for its alert to fire, then to become a running incident. */
const INCIDENT_START_TIMEOUT_MS = 60_000;
/** The shipped rule's minimum age (5m in production), short so the demo does not wait. */
const DEMO_MIN_AGE_SECONDS = 5;

const noopTrace = (namespace: string) =>
  `$ helmfile -e demo diff --detailed-exitcode\nComparing release=shop, chart=tiny, namespace=${namespace}\nNo affected releases\n`;

/** The demo's incident ended: its outcome (what the CLI's exit status comes from) and its report. */
export interface DemoResult {
  outcome: Outcome;
  report: string;
}

/**
 * The binaries the demo starts, and only those (`npm run demo` builds no others): tools/stack's
 * answer for each, the user's own or the tools cache's, or its error naming what to run.
 */
async function demoBinaries(helmMajor: 3 | 4): Promise<{ etcd: string; kubeApiserver: string; helm: string }> {
  const path = async (tool: string) => {
    try {
      return (await promisify(execFile)(join(CLONE_TOOLS_DIR ?? 'tools', 'stack'), ['--path', tool])).stdout.trim();
    } catch (err) {
      throw new Error(`the demo needs ${tool}: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`);
    }
  };
  const [etcd, kubeApiserver, helm] = await Promise.all([path('etcd'), path('kubernetes'), path(`helm${helmMajor}`)]);
  return { etcd, kubeApiserver, helm };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const say = (s: string) => o.out(`${s}\n`);
  // Numbered steps say when they start, in seconds since the demo started.
  const started = performance.now();
  const step = (s: string) => say(`${s} [${((performance.now() - started) / 1000).toFixed(1)}s]`);
  // Only the SDK's warnings: the demo narrates what happens itself. No shutdown signals: on Ctrl-C
  // the demo (through o.signal) still needs its worker to cancel the incident before it stops.
  try {
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  } catch {
    // already installed (the demo running inside a test process)
  }
  const signal = o.signal ?? new AbortController().signal;
  const dir = tempDir('demo');
  const cleanups: (() => Promise<void>)[] = [async () => removeDir(dir)];
  // Its own namespace each run: the incident's workflow id is new even when an earlier demo's
  // incident is still open in a persistent dev server (a demo killed at the prompt, say).
  const rel = { release: 'shop', namespace: `demo-${randomBytes(3).toString('hex')}` };
  const id = workflowIdFor('demo', rel.namespace, rel.release);
  let client: Client | undefined;
  try {
    const bins = await demoBinaries(o.helmMajor);
    step('1. Starting a local Kubernetes API server (etcd + kube-apiserver, RBAC on)…');
    const cp = await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube') });
    cleanups.unshift(cp.stop);
    say(`   ${cp.server}, Kubernetes ${cp.version}`);

    const helm = new Helm(o.helmMajor, bins.helm, cp.kubeconfig, join(dir, 'helm'));
    signal.throwIfAborted();
    step(`2. Making a genuinely stuck release with helm v${o.helmMajor}: install, then an upgrade killed mid-flight (as a CI runner dies)…`);
    await makeStuck['pending-upgrade'](helm, { ...rel, upgradesBefore: 1 });
    const refused = await helm.run(['upgrade', rel.release, TINY_CHART, '-n', rel.namespace]);
    say(`   the next deploy now fails: ${refused.stderr.trim()}`);
    await markHealthy(rel.namespace, cp.kubeconfig); // what the deployment controller would report
    say('   (no controllers run here, so the demo writes the Deployment status a healthy cluster would show)');

    const gitlab = new FakeGitlab({ token: 'demo-gitlab-token' });
    await gitlab.start();
    cleanups.unshift(() => gitlab.stop());
    gitlab.addProject(1, 'ops/k8s-workloads');
    const failed = gitlab.addJob(1, { name: 'demo:upgrade', status: 'failed', trace: refused.stderr });
    gitlab.addDeployment(1, { environment: 'demo', status: 'failed', job: failed });
    gitlab.onRetry = (p, job) => setTimeout(() => gitlab.setJob(p, job.id, 'success', noopTrace(rel.namespace)), 1500);

    signal.throwIfAborted();
    step('3. Starting helm-unstuck serve (webhook receiver + worker; Temporal from TEMPORAL_ADDRESS or a local dev server)…');
    const token = `demo-${Date.now()}-webhook-token`;
    const config = join(dir, 'config.yaml');
    writeFileSync(config, JSON.stringify({
      clusters: { demo: { context: 'admin', gitlab: [{ project: 1, environment: 'demo' }], admissionPolicy: 'not-required' } },
      // The demo is the operator here. Its prompt answers straight to Temporal, with no serve to
      // vouch for who you are, so its policy must say, explicitly, that it takes such decisions.
      policy: { approvers: ['you'], minPendingAge: '0s', ciPollInterval: '500ms', allowUnverifiedDecisions: true },
      server: { listen: '127.0.0.1:0' },
      kubeconfig: cp.kubeconfig,
    }));
    const svc = await serve({
      // KUBECONFIG too: the environment wins over the file, and the demo must never reach your own cluster.
      env: { ...o.env, KUBECONFIG: cp.kubeconfig, HELM_UNSTUCK_CONFIG: config, HELM_UNSTUCK_WEBHOOK_TOKEN: token, HELM_UNSTUCK_GITLAB_URL: gitlab.url, HELM_UNSTUCK_GITLAB_TOKEN: 'demo-gitlab-token', HELM_UNSTUCK_TASK_QUEUE: `demo-${Date.now()}` },
      log: (l) => say(`   ${l}`),
    });
    cleanups.unshift(svc.close);
    client = svc.client;

    signal.throwIfAborted();
    step('4. The alert, raised by the chain production runs (nobody posts it):');
    await svc.detector?.synced();
    const metric = (await (await fetch(`${svc.url}/metrics`)).text()).split('\n').find((l) => l.startsWith('helm_unstuck_release_pending_since_seconds{'));
    say(`   serve's detector watches Helm's pending records and exports:\n     ${metric ?? '(nothing yet)'}`);
    const am = await startAlertmanager({ webhookUrl: `${svc.url}/webhook/alertmanager`, bearerToken: token });
    cleanups.unshift(am.stop);
    const prom = await startPrometheus({ target: new URL(svc.url).host, alertmanager: new URL(am.url).host, rules: { minAgeSeconds: DEMO_MIN_AGE_SECONDS, for: '1s' } });
    cleanups.unshift(prom.stop);
    say(`   Prometheus (${prom.url}) scrapes it every 1s and evaluates deploy/prometheus/helm-unstuck.rules.yml (minimum age ${DEMO_MIN_AGE_SECONDS}s here, 5m shipped);`);
    say(`   Alertmanager (${am.url}) routes the alert to serve's webhook with the bearer token.`);
    const firingBy = Date.now() + INCIDENT_START_TIMEOUT_MS;
    for (;;) {
      const firing = (await prom.alerts().catch(() => [])).find((a) => a.labels.alertname === 'HelmReleaseStuck' && a.state === 'firing');
      if (firing) {
        say(`   firing: HelmReleaseStuck{${Object.entries(firing.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}="${v}"`).join(',')}}`);
        break;
      }
      if (Date.now() > firingBy) throw new Error(`Prometheus did not fire HelmReleaseStuck within ${INCIDENT_START_TIMEOUT_MS / 1000}s`);
      await sleep(250, undefined, { signal });
    }

    // Wait for the alert to become this run's incident, then follow that run.
    const deadline = Date.now() + INCIDENT_START_TIMEOUT_MS;
    let runId: string | undefined;
    while (!runId) {
      const d = await svc.client.workflow.getHandle(id).describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') runId = d.runId;
      else if (Date.now() > deadline) throw new Error(`the alert did not start incident ${id} within ${INCIDENT_START_TIMEOUT_MS / 1000}s; see serve's log above`);
      else await sleep(200, undefined, { signal });
    }
    const handle = svc.client.workflow.getHandle<typeof remediateStuckRelease>(id, runId);
    step(`5. Incident ${id}:`);
    let shown = 0;
    let decided = false;
    for (;;) {
      let st;
      try {
        st = await handle.query(statusQuery);
      } catch {
        await sleep(200, undefined, { signal });
        continue;
      }
      for (const e of st.evidence.slice(shown)) say(`   ${mark(e.ok)} [${e.step}] ${e.summary}`);
      shown = st.evidence.length;
      if (st.outcome) break;
      if (st.hold === 'approval' && !decided) {
        const yes = o.yes || /^y(es)?$/i.test((await (o.ask ?? ask)('   Approve? [y/N] ', signal)).trim());
        // The decision names the plan you were shown (its digest is in the approval request above).
        const plan = st.view.plan?.digest;
        const decision = yes ? { action: 'approve' as const, reason: o.yes ? 'approved in advance (--yes)' : 'approved at the prompt' } : { action: 'reject' as const, reason: 'declined at the prompt' };
        await decide(svc.client, id, { ...decision, by: 'you', ...(plan ? { plan } : {}) });
        decided = true;
      }
      await sleep(300, undefined, { signal });
    }
    const { outcome } = await handle.result();
    const report = renderMarkdown(buildIncidentReport(await handle.fetchHistory()));
    step('6. The incident report (helm-unstuck report, from history alone):');
    say('');
    o.out(report);
    const status = await helm.status(rel.release, rel.namespace);
    say(`\nhelm status: revision ${status.revision} ${status.status}`);
    if (status.status === 'deployed') {
      const next = await helm.run(['upgrade', rel.release, TINY_CHART, '-n', rel.namespace, '--set', 'tag=4.0.0']);
      say(next.code === 0 ? 'helm upgrade: succeeds again (rolled forward, never back)' : `helm upgrade: ${next.stderr.trim()}`);
    }
    return { outcome, report };
  } catch (err) {
    // However the demo ends early, it leaves no incident open behind it.
    const closed = client
      ? await closeIncident(client, id).catch((e: unknown) => `could not close incident ${id} (${(e as Error).message})`)
      : 'no incident was started';
    say(`\n${signal.aborted ? 'Interrupted' : 'Stopping'}: ${closed}; stopping everything the demo started.`);
    if (signal.aborted) throw new DemoInterrupted(`interrupted; incident ${id} closed`);
    throw err;
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

/**
 * Cancel the demo's incident, so no open incident is left behind in a persistent dev server; the
 * workflow records the cancellation (nothing is deleted). Terminate it if it does not close in time.
 */
async function closeIncident(client: Client, id: string): Promise<string> {
  const handle = client.workflow.getHandle(id);
  const d = await handle.describe().catch(() => undefined);
  if (d?.status.name !== 'RUNNING') return d ? `incident ${id} is ${d.status.name.toLowerCase()}` : 'no incident was started';
  await handle.cancel();
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const now = (await handle.describe()).status.name;
    if (now !== 'RUNNING') return `incident ${id} ${now.toLowerCase()}`;
    await sleep(200);
  }
  await handle.terminate('the demo ended early and the incident did not cancel within 15s');
  return `incident ${id} terminated (it did not cancel within 15s)`;
}

async function ask(q: string, signal: AbortSignal): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  // In a terminal, readline takes Ctrl-C itself (and would only pause): pass it on as SIGINT.
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  // At the end of input the question would never be answered: that is no, never a yes.
  let ended = () => {};
  const closed = new Promise<never>((_, fail) => {
    ended = () => fail(new Error('standard input ended before you answered; nothing was approved (--yes approves in advance)'));
    rl.once('close', ended);
  });
  try {
    return await Promise.race([rl.question(q, { signal }), closed]);
  } finally {
    rl.off('close', ended);
    rl.close();
  }
}


