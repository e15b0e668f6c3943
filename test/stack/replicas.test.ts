// Two `helm-unstuck serve` replicas, each with its worker (as serve runs by default), on one
// Temporal dev server and one real API server, with the same configuration, session secret and
// decision key: what the chart runs with replicaCount: 2. Each replica is its own process
// (`cli/main.ts serve`), reaching the API server through a proxy of its own (holding-proxy.ts).
// - Alerts posted to both replicas (two Alertmanagers each send every alert to every receiver)
//   start one incident per release.
// - A person signed in on one replica approves through the other (the session cookie is signed
//   with the shared secret; the decision with the shared key).
// - The replica running an unlock is SIGKILLed once its DELETE is sent, and the DELETE then lands:
//   the surviving replica's worker retries the activity once Temporal notices the lost heartbeat,
//   and every incident ends unstuck and verified with one backup and one DELETE, counted from the
//   API server's audit log, and one CI retry, counted by the fake GitLab.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeKey, publicKeyOf } from '../../decisions/decision-proof';
import { workflowIdFor } from '../../decisions/vocabulary';
import { waitFor } from '../wait-for';
import { API_PREFIX } from '../../server/api';
import { WEBHOOK_PATH } from '../../server/http';
import { statusQuery, type RemediationResult, type RemediationStatus } from '../../workflows/definitions';
import { FakeGitlab } from '../fake-gitlab/server';
import { auditedActions, doubleActions } from './chaos';
import { startControlPlane, type ControlPlane } from './control-plane';
import { markHealthy } from './deployments';
import { unique } from './fixtures';
import { Helm } from './helm';
import { OneHold, startHoldingProxy, type HeldRequest, type HoldingProxy } from './holding-proxy';
import { ENVIRONMENT, GITLAB_TOKEN, gitlabProject, RIG_POLICY, SERVE_KEY, trace } from './incident-rig';
import { binaries, removeDir, startServer, tempDir, type Server } from './process';
import { makeStuck } from './stuck';
import { startTemporal } from './temporal';

const ROOT = resolve(__dirname, '..', '..');
const CONTEXT = 'replicas';
const ALICE = `alice-${randomBytes(16).toString('hex')}`;
const WEBHOOK_TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Replica {
  name: string;
  url: string;
  proxy: HoldingProxy;
  server: Server;
}

/** One stuck release, in a configured cluster of its own with its own GitLab project (CI retries count per project). */
interface Stuck {
  cluster: string;
  namespace: string;
  release: string;
  project: number;
  id: string;
  rerunJob?: number;
}

let dir: string;
let cp: ControlPlane;
let temporal: TestWorkflowEnvironment;
let gitlab: FakeGitlab;
let helm: Helm;
let replicas: Record<string, Replica>;
let stuck: Stuck[];
/** The first DELETE of the first release's pending record, by either replica, is held. */
let hold: OneHold;

/** `helm-unstuck serve`, as its own process, with `env` (Temporal's and helm-unstuck's variables). */
async function startReplica(name: string, env: NodeJS.ProcessEnv): Promise<Replica> {
  const proxy = await startHoldingProxy({ name, server: cp.server, caFile: cp.caFile, token: cp.adminToken, hold });
  const logFile = join(dir, `serve-${name}.log`);
  const server = startServer(`serve ${name}`, process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve'], {
    logFile,
    cwd: ROOT,
    env: { ...env, KUBECONFIG: proxy.writeKubeconfig(join(dir, `kubeconfig-${name}`), CONTEXT) },
  });
  // The worker is created before the listener: once serve says where it listens, both run.
  const url = await waitFor(
    `serve ${name} to listen (${logFile})`,
    () => {
      if (server.exited()) throw new Error(`serve ${name} exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      return /serving the Alertmanager webhook at (http:\/\/\S+)\/webhook/.exec(readFileSync(logFile, 'utf8'))?.[1];
    },
    Boolean,
    { timeoutMs: 300_000, intervalMs: 250 },
  );
  return { name, url: url!, proxy, server };
}

beforeAll(async () => {
  const bins = await binaries();
  dir = tempDir('replicas');
  [cp, temporal] = await Promise.all([startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube'), audit: true }), startTemporal()]);
  gitlab = new FakeGitlab({ token: GITLAB_TOKEN });
  await gitlab.start();
  helm = new Helm(4, bins.helm4, cp.kubeconfig, join(dir, 'helm4'));
  stuck = [1, 2, 3].map((i) => {
    const s = { cluster: `site-${i}`, namespace: unique(`replicas${i}`), release: unique('web'), project: gitlabProject(gitlab).project };
    return { ...s, id: workflowIdFor(s.cluster, s.namespace, s.release) };
  });
  const first = stuck[0]!;
  hold = new OneHold((method, path) => method === 'DELETE' && path === `/api/v1/namespaces/${first.namespace}/secrets/sh.helm.release.v1.${first.release}.v2`);
  // Each re-run job runs until the test finishes it.
  gitlab.onRetry = (project, job) => {
    gitlab.setJob(project, job.id, 'running');
    stuck.find((s) => s.project === project)!.rerunJob = job.id;
  };

  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      clusters: Object.fromEntries(stuck.map((s) => [s.cluster, { context: CONTEXT, gitlab: [{ project: s.project, environment: ENVIRONMENT }], admissionPolicy: 'not-required' }])),
      // Only decisions serve signed count; the re-run job may run while a replica is down.
      policy: { ...RIG_POLICY, approvers: ['alice'], allowUnverifiedDecisions: false, ciPollInterval: '1s', ciJobTimeout: '10m' },
      decisionKeys: [publicKeyOf(SERVE_KEY)],
      users: { alice: { tokenSha256: sha(ALICE) } },
      // Plain HTTP on loopback, on purpose: cookies without Secure.
      server: { listen: '127.0.0.1:0', insecureCookies: true },
    }),
  );
  // What the chart gives every replica: one configuration, one Secret (session secret, decision key).
  const env = {
    HELM_UNSTUCK_CONFIG: config,
    HELM_UNSTUCK_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    HELM_UNSTUCK_SESSION_SECRET: randomBytes(32).toString('hex'),
    HELM_UNSTUCK_DECISION_KEY: encodeKey(SERVE_KEY),
    HELM_UNSTUCK_GITLAB_URL: gitlab.url,
    HELM_UNSTUCK_GITLAB_TOKEN: GITLAB_TOKEN,
    HELM_UNSTUCK_TASK_QUEUE: unique('replicas'),
    TEMPORAL_ADDRESS: temporal.address,
  };
  const [a, b] = await Promise.all([
    startReplica('a', env),
    startReplica('b', env),
    (async () => {
      for (const s of stuck) {
        await makeStuck['pending-upgrade'](helm, s);
        await markHealthy(s.namespace, cp.kubeconfig);
      }
    })(),
  ]);
  replicas = { a: a!, b: b! };
}, 900_000);

afterAll(async () => {
  for (const r of Object.values(replicas ?? {})) {
    await r.server.stop();
    await r.proxy.close();
  }
  await gitlab?.stop();
  await temporal?.teardown();
  await cp?.stop();
  if (dir && !process.env.HELM_UNSTUCK_KEEP_TEST_DIRS) await removeDir(dir);
});

const handle = (s: Stuck) => temporal.client.workflow.getHandle(s.id) as WorkflowHandle;
const status = (s: Stuck) => handle(s).query(statusQuery) as Promise<RemediationStatus>;

/** Alertmanager's webhook for one firing alert about `s`. */
function alertFor(s: Stuck): string {
  const body = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'alertmanager', 'firing-one-release.json'), 'utf8')) as { alerts: Record<string, unknown>[] };
  const labels = { alertname: 'HelmReleaseStuck', cluster: s.cluster, namespace: s.namespace, label_name: s.release, label_owner: 'helm', label_status: 'pending-upgrade', label_version: '2' };
  body.alerts = [{ ...body.alerts[0], labels, fingerprint: createHash('sha256').update(s.id).digest('hex').slice(0, 16), startsAt: new Date().toISOString() }];
  return JSON.stringify({ ...body, groupLabels: labels, commonLabels: labels });
}

async function postAlert(r: Replica, body: string): Promise<string> {
  const res = await fetch(`${r.url}${WEBHOOK_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' }, body });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { accepted: { result: string }[] };
  expect(answer.accepted).toHaveLength(1);
  return answer.accepted[0]!.result;
}

/** Where an incident is, for a wait's failure message: its status, and what Temporal is retrying. */
async function progress(s: Stuck) {
  const d = await handle(s).describe();
  if (d.status.name !== 'RUNNING') return { status: d.status.name };
  const st = await status(s).catch((err: Error) => ({ step: `(no answer: ${err.message})`, waitingFor: undefined }));
  const pending = d.raw.pendingActivities?.map((a) => ({ type: a.activityType?.name, state: a.state, attempt: a.attempt, failure: a.lastFailure?.message })) ?? [];
  return { status: d.status.name, step: st.step, waitingFor: st.waitingFor, pending };
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** A history event's time (a protobuf Timestamp, its seconds a Long), in Unix ms. */
const msOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(String(t?.seconds ?? 0)) * 1000 + (t?.nanos ?? 0) / 1e6;

/** Every run Temporal has of the incident's workflow id (visibility). */
async function runsOf(s: Stuck): Promise<string[]> {
  const runs: string[] = [];
  for await (const w of temporal.client.workflow.list({ query: `WorkflowId = '${s.id}'` })) runs.push(w.runId);
  return runs;
}

test('the same alerts posted to both replicas start exactly one incident per release', async () => {
  // Each release's alert reaches both replicas at once, as from two Alertmanagers.
  const answers = await Promise.all(stuck.map((s) => Promise.all([postAlert(replicas.a!, alertFor(s)), postAlert(replicas.b!, alertFor(s))])));
  for (const a of answers) expect([...a].sort()).toEqual(['joined', 'started']);
  // Re-sent to both: each replica remembers what it forwarded.
  const again = await Promise.all(stuck.map((s) => Promise.all([postAlert(replicas.a!, alertFor(s)), postAlert(replicas.b!, alertFor(s))])));
  for (const a of again) expect(a).toEqual(['duplicate', 'duplicate']);
  for (const s of stuck) {
    await waitFor(`${s.id} to ask for approval`, () => status(s), (st) => st.hold === 'approval', { timeoutMs: 240_000 });
    expect(await waitFor(`${s.id} in visibility`, () => runsOf(s), (r) => r.length > 0)).toHaveLength(1);
  }
}, 600_000);

/** Sign in on a replica's approval page with a token; the session cookie it sets. */
async function signIn(r: Replica): Promise<string> {
  const res = await fetch(`${r.url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: r.url }, body: new URLSearchParams({ token: ALICE, next: '/incidents' }) });
  expect(res.status).toBe(303);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('hu_session='));
  expect(cookie).toBeDefined();
  return cookie!.split(';')[0]!;
}

/**
 * Approve on a replica's page with a session cookie: open the incident, send its form back. The
 * Origin is the replica's own: behind one Service and host, the page's origin is the one posted to.
 */
async function approveOnPage(r: Replica, cookie: string, s: Stuck): Promise<void> {
  const page = await fetch(`${r.url}/incidents/${s.id}`, { headers: { cookie }, redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1] ?? '';
  const form = new URLSearchParams({ csrf: field('csrf'), hold: field('hold'), plan: field('plan'), action: 'approve', reason: `approved through replica ${r.name}` });
  expect([...form.values()].every(Boolean)).toBe(true);
  const sent = await fetch(`${r.url}/incidents/${s.id}/decide`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: r.url, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  expect({ status: sent.status, location: sent.headers.get('location') }).toEqual({ status: 303, location: `/incidents/${s.id}` });
}

test('signed in on one replica, a person approves through the other', async () => {
  const [, second, third] = stuck as [Stuck, Stuck, Stuck];
  await approveOnPage(replicas.b!, await signIn(replicas.a!), second);
  await approveOnPage(replicas.a!, await signIn(replicas.b!), third);
  for (const s of [second, third]) {
    const st = await waitFor(`${s.id} to re-run its CI job`, () => status(s), (x) => x.step === 'roll-forward' && /CI job \d+ \(running\) to finish/.test(x.waitingFor ?? ''), { timeoutMs: 240_000 });
    expect(st.approvals).toEqual([expect.objectContaining({ by: 'alice', verifiedBy: 'token', via: 'page' })]);
  }
}, 600_000);

test('the replica running an unlock is SIGKILLed after sending its DELETE: every incident ends unstuck and verified, one DELETE each', async () => {
  const [first, ...others] = stuck as [Stuck, Stuck, Stuck];
  // Killed the moment its DELETE is held, not on the next look: an attempt gives up on a request
  // after 15 s, and a kill after that would find the activity already failing over.
  let kill: { held: HeldRequest; replica: Replica; at: number } | undefined;
  void hold.held.then((held) => {
    const replica = replicas[held.proxy]!;
    process.kill(replica.server.pid, 'SIGKILL');
    kill = { held, replica, at: Date.now() };
  });
  // Through the API this time, on either replica: the bearer token is the person's own.
  const plan = (await status(first)).view.plan!.digest;
  const res = await fetch(`${replicas.a!.url}${API_PREFIX}/incidents/${first.id}/decisions`, { method: 'POST', headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'approve', reason: 'approved through the API', plan }) });
  expect(res.status).toBe(200);

  // Inside unlockRelease on one replica: its backup written, its DELETE sent (and held), it killed.
  await waitFor(`a replica to send the DELETE of ${first.id}'s record`, () => kill, Boolean, { timeoutMs: 240_000 });
  const { held, replica: killed, at: killedAt } = kill!;
  const survivor = Object.values(replicas).find((r) => r !== killed)!;
  await killed.server.stop();
  // The DELETE reaches the API server; the replica that sent it never hears.
  expect(await held.land()).toBe(200);
  for (const s of others) gitlab.setJob(s.project, s.rerunJob!, 'success', trace('helmfile-noop.txt'));

  // Temporal hands the attempt to the survivor once the dead one's heartbeat is overdue (10 s).
  const inNamespace = `/namespaces/${first.namespace}/`;
  const retried = await waitFor(`the survivor (${survivor.name}) to retry ${first.id}'s unlock`, () => survivor.proxy.requests.find((q) => q.at > killedAt && q.path.includes(inNamespace)), Boolean, { timeoutMs: 240_000 });
  // Not before the dead attempt's heartbeat was overdue: its last beat was at most 2 s before the kill.
  expect(retried!.at - killedAt).toBeGreaterThanOrEqual(8_000);
  await waitFor(`${first.id} to re-run its CI job`, () => first.rerunJob, (j) => j !== undefined, { timeoutMs: 240_000 });
  gitlab.setJob(first.project, first.rerunJob!, 'success', trace('helmfile-noop.txt'));
  const ended = await waitFor('every incident to complete', () => Promise.all(stuck.map(progress)), (n) => n.every((x) => x.status === 'COMPLETED'), { timeoutMs: 300_000, intervalMs: 250 });
  expect(ended.map((x) => x.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);

  const rows = [];
  for (const s of stuck) {
    const result = (await handle(s).result()) as RemediationResult;
    const audited = auditedActions(cp.auditLog!, s.namespace);
    const events = (await handle(s).fetchHistory()).events ?? [];
    const unlocks = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'unlockRelease');
    const unlockId = String(unlocks[0]?.eventId);
    const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === unlockId);
    const completed = events.find((e) => e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === unlockId);
    const row = {
      incident: s.id,
      outcome: result.outcome,
      runs: (await runsOf(s)).length,
      unlocksScheduled: unlocks.length,
      unlockAttempts: started?.activityTaskStartedEventAttributes?.attempt,
      deletes: audited.deletes,
      backupsMade: audited.backupCreates.filter((c) => c === 201).length,
      recordUpdates: audited.recordUpdates.length,
      ciRetries: gitlab.retries(s.project).length,
      helm: await helm.status(s.release, s.namespace),
      doubleActions: doubleActions(audited, gitlab.retries(s.project).length),
      // How long the incident paused: its unlock done on the survivor, its next step scheduled
      // (the workflow task the dead replica had cached goes to the survivor), the incident closed.
      unlockDoneAfterKillS: s === first ? seconds(msOf(completed?.eventTime) - killedAt) : undefined,
      nextStepAfterKillS: s === first ? seconds(msOf(events.find((e) => Number(e.eventId) > Number(completed?.eventId) && e.activityTaskScheduledEventAttributes)?.eventTime) - killedAt) : undefined,
      closedAfterKillS: seconds(Number((await handle(s).describe()).closeTime) - killedAt),
      detail: result.unlock?.actions.map((a) => a.detail),
    };
    rows.push(row);
    expect(row).toMatchObject({ outcome: 'unstuck-and-verified', runs: 1, unlocksScheduled: 1, deletes: [200], backupsMade: 1, recordUpdates: 0, ciRetries: 1, helm: { status: 'deployed', revision: 1 }, doubleActions: 0 });
  }
  // The killed replica's attempt was the first; the survivor's retry found its DELETE landed.
  expect(rows[0]!.unlockAttempts).toBeGreaterThanOrEqual(2);
  expect(rows[0]!.detail).toEqual([expect.stringMatching(/deleted by this incident \(an earlier attempt\)/)]);
  console.log(
    `two replicas, ${killed.name} SIGKILLed inside ${first.id}'s unlock: ${stuck.length} incidents, ${rows.filter((r) => r.outcome !== 'unstuck-and-verified').length} lost or wrong, ` +
      `${rows.reduce((n, r) => n + r.doubleActions, 0)} double actions; the survivor's retry reached the API server ${seconds(retried!.at - killedAt)} s after the kill\n` +
      JSON.stringify(rows, null, 2),
  );
}, 900_000);
