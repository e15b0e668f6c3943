// Requests as alerts (issue 22, item 1), on the real stack: a genuinely stuck release, real helm,
// the Temporal dev server, the fake GitLab, and Debian's real Alertmanager routing every alert to
// its own group and on to a receiver standing in for Slack or PagerDuty. Nothing is posted by
// hand: what arrives at the receiver is what the incident told Alertmanager.
import { WorkflowFailedError } from '@temporalio/client';
import { startRemediation } from '../../client/incidents';
import { DECISION_REQUIRED, NEEDS_ATTENTION } from '../../decisions/alert-requests';
import type { RemediationResult } from '../../workflows/remediate';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { startAlertReceiver, type AlertReceiver, type Received } from './alert-receiver';
import { markHealthy } from './deployments';
import { CHART_SECRETS, CLUSTER, helmFor, unique } from './fixtures';
import { captureHistory, decideVerified, gitlabProject, newWorker, remediationInput, startRig, taskQueue, trace, waitForStatus, type Rig, type RigOperator } from './incident-rig';
import { makeStuck } from './stuck';

const EXTERNAL_URL = 'https://helm-unstuck.example.test';
let rig: Rig;
let receiver: AlertReceiver;
let am: Alertmanager;
const helm = helmFor(3);

const startAm = (port?: number) =>
  startAlertmanager({ webhookUrl: receiver.url, bearerToken: 'receiver-token', groupBy: ['...'], ...(port ? { port } : {}) });

beforeAll(async () => {
  [rig, receiver] = await Promise.all([startRig(), startAlertReceiver()]);
  am = await startAm();
}, 120_000);
afterAll(async () => {
  await am?.stop();
  await receiver?.stop();
  await rig?.stop();
});

async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('am') };
  await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  return o;
}

type Handle = Awaited<ReturnType<typeof startRemediation>>['handle'];

/** One incident on a fresh worker that posts to `am` (unless told otherwise); `drive` plays the humans. */
async function incident(o: { release: string; namespace: string }, operator: RigOperator, drive: (h: Handle) => Promise<void>, golden?: string): Promise<RemediationResult> {
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { alertmanager: { url: am.url, externalUrl: EXTERNAL_URL }, ...operator });
  return worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await drive(handle);
    const r = await handle.result();
    if (golden) await captureHistory(golden, handle);
    return r;
  });
}

const of = (id: string, alertname: string, status: Received['status'], labels: Record<string, string> = {}) => (a: Received) =>
  a.labels.incident === id && a.labels.alertname === alertname && a.status === status && Object.entries(labels).every(([k, v]) => a.labels[k] === v);

/** Alertmanager's own answer: the alerts it holds active for this incident now. */
async function activeIn(id: string): Promise<{ labels: Record<string, string>; endsAt: string }[]> {
  const res = await fetch(`${am.url}/api/v2/alerts?filter=${encodeURIComponent(`incident="${id}"`)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { labels: Record<string, string>; endsAt: string }[];
}

const evidence = (r: { evidence: { summary: string }[] }) => r.evidence.map((e) => e.summary).join('\n');
const approve = (id: string) => decideVerified(rig.env.client, id, { action: 'approve', by: 'alice', reason: 'checked' });

test('the approval request arrives with the page, the plan and its digest; approving resolves it', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  let id = '';
  const r = await incident(o, { project }, async (h) => {
    id = h.workflowId;
    const st = await waitForStatus(h, (s) => s.hold === 'approval');
    const asked = await receiver.next(of(id, DECISION_REQUIRED, 'firing'));
    expect(asked.labels).toEqual({ alertname: DECISION_REQUIRED, cluster: CLUSTER, namespace: o.namespace, release: o.release, incident: id, hold: 'approval', severity: 'warning' });
    expect(asked.annotations.url).toBe(`${EXTERNAL_URL}/incidents/helm-unstuck/${CLUSTER}/${o.namespace}/${o.release}`);
    expect(asked.annotations.plan_digest).toBe(st.view.plan?.digest);
    expect(asked.annotations.plan).toMatch(new RegExp(`^back up and delete sh\\.helm\\.release\\.v1\\.${o.release}\\.v3 \\(pending-upgrade, uid [0-9a-f-]+\\)$`));
    expect(asked.annotations.summary).toBe(`${CLUSTER}/${o.namespace}/${o.release} is stuck and waits for approval to unlock it`);
    expect(asked.annotations.description).toBe(`waiting for ${st.waitingFor}`);
    // Far ahead in Alertmanager (its webhook shows no endsAt while firing): nothing relies on re-posting or on resolve_timeout.
    const [held] = await activeIn(id);
    expect(Date.parse(held!.endsAt) - Date.now()).toBeGreaterThan(6 * 24 * 3600_000);
    await approve(id);
    await receiver.next(of(id, DECISION_REQUIRED, 'resolved', { hold: 'approval', severity: 'warning' }));
  });
  expect(r.outcome).toBe('unstuck-and-verified');
  expect(await activeIn(id)).toEqual([]);
  expect(receiver.received.filter((a) => a.labels.incident === id && a.labels.alertname === NEEDS_ATTENTION)).toEqual([]);
  expect(JSON.stringify(receiver.received)).not.toMatch(new RegExp(CHART_SECRETS.join('|')));
});

test('an overdue hold arrives again as critical (the warning one resolved); a rejection resolves it', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  let id = '';
  const r = await incident(o, { project, policy: { escalateAfter: '2s' } }, async (h) => {
    id = h.workflowId;
    await waitForStatus(h, (s) => s.hold === 'approval');
    await receiver.next(of(id, DECISION_REQUIRED, 'firing', { severity: 'warning' }));
    const overdue = await receiver.next(of(id, DECISION_REQUIRED, 'firing', { severity: 'critical' }));
    expect(overdue.annotations.summary).toMatch(/waits for approval to unlock it \(overdue\)$/);
    await receiver.next(of(id, DECISION_REQUIRED, 'resolved', { severity: 'warning' }));
    expect((await activeIn(id)).map((a) => a.labels.severity)).toEqual(['critical']);
    await decideVerified(rig.env.client, id, { action: 'reject', by: 'bob', reason: 'not during the freeze' });
    await receiver.next(of(id, DECISION_REQUIRED, 'resolved', { severity: 'critical' }));
  }, 'requests-as-alerts-escalated');
  expect(r.outcome).toBe('rejected');
  expect(r.escalations).toBeGreaterThanOrEqual(1);
  expect(await activeIn(id)).toEqual([]);
});

test('a needs-review ending raises HelmUnstuckNeedsAttention with the reason and the link', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'failed', trace('helmfile-changes.txt'));
  let id = '';
  const r = await incident(o, { project }, async (h) => {
    id = h.workflowId;
    await waitForStatus(h, (s) => s.hold === 'approval');
    await approve(id);
  });
  expect(r.outcome).toBe('needs-review');
  const told = await receiver.next(of(id, NEEDS_ATTENTION, 'firing'));
  expect(told.labels).toEqual({ alertname: NEEDS_ATTENTION, cluster: CLUSTER, namespace: o.namespace, release: o.release, incident: id, outcome: 'needs-review', severity: 'warning' });
  expect(told.annotations.reason).toBe(r.reason);
  expect(told.annotations.url).toBe(`${EXTERNAL_URL}/incidents/helm-unstuck/${CLUSTER}/${o.namespace}/${o.release}`);
  expect(JSON.stringify(told)).not.toMatch(new RegExp(CHART_SECRETS.join('|')));
});

test('Alertmanager down during the request: the hold stays open, the evidence says so, and the request arrives once it is back', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const port = Number(new URL(am.url).port);
  await am.stop();
  let id = '';
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const r = await incident(o, { project }, async (h) => {
    id = h.workflowId;
    const down = await waitForStatus(h, (s) => s.hold === 'approval' && /the request could not be delivered to Alertmanager/.test(evidence(s)));
    expect(evidence(down)).toMatch(
      /the request could not be delivered to Alertmanager \(HelmUnstuckDecisionRequired \(approval, warning\) raised\): Alertmanager at http:\/\/127\.0\.0\.1:\d+ could not be reached: .*; trying again for up to 15 minutes/,
    );
    am = await startAm(port);
    const asked = await receiver.next(of(id, DECISION_REQUIRED, 'firing'));
    expect(asked.annotations.plan_digest).toBe(down.view.plan?.digest);
    await approve(id);
    await receiver.next(of(id, DECISION_REQUIRED, 'resolved'));
  }, 'requests-as-alerts-delayed');
  expect(r.outcome).toBe('unstuck-and-verified');
  expect(evidence(r)).toMatch(/the request was delivered to Alertmanager at attempt \d+: HelmUnstuckDecisionRequired \(approval, warning\) raised/);
});

test('a cancelled incident resolves its open request', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project, alertmanager: { url: am.url, externalUrl: EXTERNAL_URL } });
  await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await waitForStatus(handle, (s) => s.hold === 'approval');
    await receiver.next(of(handle.workflowId, DECISION_REQUIRED, 'firing'));
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    // Posted before the run ended (it waits for its posts): Alertmanager holds nothing for it now.
    expect(await activeIn(handle.workflowId)).toEqual([]);
    await receiver.next(of(handle.workflowId, DECISION_REQUIRED, 'resolved'));
  });
});

test('no alertmanager.url: nothing is posted, and the evidence says so once', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const r = await incident(o, { project, alertmanager: {}, policy: { escalateAfter: '300ms' } }, async (h) => {
    await waitForStatus(h, (s) => s.escalations >= 2);
    await decideVerified(rig.env.client, h.workflowId, { action: 'reject', by: 'bob', reason: 'later' });
  });
  expect(r.outcome).toBe('rejected');
  expect(r.evidence.filter((e) => /Alertmanager/.test(e.summary)).map((e) => e.summary)).toEqual(['nobody is told through Alertmanager: alertmanager.url is not set']);
  expect(receiver.received.filter((a) => a.labels.incident === r.incident)).toEqual([]);
});
