// The remediation workflow on the real Temporal dev server, the real API server and real helm,
// with the fake GitLab. Each test is one branch of the runbook, asserting the outcome and the
// evidence the workflow recorded.
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { startRemediation, decide, notifyAlert } from '../../client/incidents';
import type { RemediationInput } from '../../decisions/schemas';
import type { RemediationResult } from '../../workflows/remediate';
import { decideSignal } from '../../workflows/definitions';
import { CHART_SECRETS, helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import {
  captureHistory,
  currentPlan,
  decideVerified,
  gitlabProject,
  incidentId,
  newWorker,
  bindingOf,
  proofFor,
  remediationInput,
  startRig,
  STRANGER_KEY,
  taskQueue,
  trace,
  waitForStatus,
  type Rig,
  type RigOperator,
} from './incident-rig';
import { markHealthy } from './deployments';
import { recordRollbackOverLock, relabelPending } from './records';
import { makeStuck } from './stuck';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
}, 120_000);
afterAll(() => rig?.stop());

const helm = helmFor(3);

/** A genuinely stuck release whose Deployment the (absent) controller has rolled out. */
async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('wf') };
  await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  return o;
}

function evidenceText(r: { evidence: { summary: string }[] }): string {
  return r.evidence.map((e) => e.summary).join('\n');
}

test('an alert to a stuck release, approved, ends unstuck-and-verified; helm upgrades again', async () => {
  const o = await stuckRelease();
  const { project, failedJob } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project, policy: { allowUnverifiedDecisions: false } });
  const result = await worker.runUntil(async () => {
    const { handle, started } = await startRemediation(rig.env.client, remediationInput(o), tq);
    expect(started).toBe(true);
    const waiting = await waitForStatus(handle, (s) => s.hold === 'approval');
    expect(waiting.waitingFor).toMatch(/^approval by alice or bob to back up and delete sh\.helm\.release\.v1\.web-\w+\.v3 \(pending-upgrade, uid [0-9a-f-]+\); plan [0-9a-f]{12}$/);
    expect(waiting.waitingFor).toContain(`plan ${waiting.view.plan?.digest}`);
    // A second start for the same release joins this incident.
    const again = await startRemediation(rig.env.client, remediationInput(o), tq);
    expect(again.started).toBe(false);
    expect(again.handle.workflowId).toBe(handle.workflowId);
    const d = { action: 'approve' as const, by: 'alice', reason: 'runbook checks are green' };
    expect(await decideVerified(rig.env.client, handle.workflowId, d, { verifiedBy: 'sso', via: 'page', groups: ['sre'] })).toEqual({ accepted: true, step: 'approval' });
    const r = await handle.result();
    await captureHistory('unstuck-and-verified', handle);
    return r;
  });

  expect(result.outcome).toBe('unstuck-and-verified');
  expect(result.approval).toMatchObject({ action: 'approve', by: 'alice', verifiedBy: 'sso', via: 'page', groups: ['sre'], plan: expect.stringMatching(/^[0-9a-f]{12}$/) });
  expect(result.approvals).toEqual([result.approval]);
  expect(evidenceText(result)).toMatch(/^the operator's policy \(digest [0-9a-f]{12}\): approvers alice, bob; one approval; unverified decisions refused; 1 decision key; no auto-approval/m);
  expect(evidenceText(result)).toMatch(/alice \(sso; groups sre\) via page: approve, because runbook checks are green \(plan [0-9a-f]{12}\)/);
  expect(result.unlock?.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'deleted' })]);
  expect(result.verification).toMatchObject({ verified: true, revision: 2, status: 'deployed' });
  expect(result.rerun?.job.id).not.toBe(failedJob.id);
  expect(result.rerun?.diff.verdict).toBe('no-op');
  expect(rig.gitlab.retries()).toHaveLength(1);
  expect(evidenceText(result)).toMatch(/CI quiet[\s\S]*all 1 Deployments healthy/);
  expect(evidenceText(result)).toMatch(/is stuck: revision 3 has been pending-upgrade/);
  expect(evidenceText(result)).toMatch(/re-check: still exactly what was approved/);
  expect(JSON.stringify(result)).not.toMatch(new RegExp(CHART_SECRETS.join('|')));

  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
  await helm.ok(['upgrade', o.release, TINY_CHART, '-n', o.namespace, '--set', 'tag=4.0.0']);
  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 3 });
});

/** Run one incident on a fresh worker configured by `operator`; `drive` plays the humans. */
async function incident(
  o: { release: string; namespace: string },
  operator: RigOperator,
  drive: (h: Awaited<ReturnType<typeof startRemediation>>['handle']) => Promise<void> = async () => undefined,
  golden?: string,
  input: RemediationInput = remediationInput(o),
): Promise<RemediationResult> {
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, operator);
  return worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, input, tq);
    await drive(handle);
    const r = await handle.result();
    if (golden) await captureHistory(golden, handle);
    return r;
  });
}

const approve = (id: string, by = 'alice') => decideVerified(rig.env.client, id, { action: 'approve', by, reason: 'checked' });

describe('branches', () => {
  test('busy CI: looks again on a timer, then asks a human; abort ends aborted, nothing deleted', async () => {
    const o = await stuckRelease();
    const before = await helm.history(o.release, o.namespace);
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.addJob(project, { name: 'gprd:upgrade', status: 'running' });
    const r = await incident(o, { project, policy: { ciMaxChecks: 3 } }, async (h) => {
      const s = await waitForStatus(h, (x) => x.hold === 'ci-busy');
      expect(s.evidence.filter((e) => /^CI busy: job \d+ gprd:upgrade \(running\)/.test(e.summary))).toHaveLength(3);
      await decide(rig.env.client, h.workflowId, { action: 'abort', by: 'bob', reason: 'a deploy is really running' });
    }, 'aborted');
    expect(r).toMatchObject({ outcome: 'aborted', reason: 'bob aborted while CI was busy: a deploy is really running' });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
  });

  test('an activity that fails for good (a GitLab project that does not exist) ends failed, naming it; nothing deleted', async () => {
    const o = await stuckRelease();
    const before = await helm.history(o.release, o.namespace);
    const r = await incident(o, { project: 999_999 }, undefined, 'failed');
    expect(r.outcome).toBe('failed');
    expect(r.reason).toMatch(/^ci-quiet: checkCiQuiet failed: .*404/);
    expect(r.evidence.filter((e) => e.kind === 'error').at(-1)).toMatchObject({ step: 'ci-quiet', kind: 'error', ok: false, summary: expect.stringMatching(/^checkCiQuiet failed: /) });
    expect(r.unlock).toBeUndefined();
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
  });

  test('an unhealthy Deployment stops and asks; stopping ends needs-investigation with the evidence', async () => {
    const o = { release: unique('web'), namespace: unique('wf') };
    await makeStuck['pending-upgrade'](helm, o); // its Deployment never became ready
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project }, async (h) => {
      const s = await waitForStatus(h, (x) => x.hold === 'unhealthy');
      expect(s.waitingFor).toMatch(/NOT healthy: .*-web/);
      await decide(rig.env.client, h.workflowId, { action: 'abort', by: 'alice', reason: 'web is crashlooping' });
    }, 'needs-investigation');
    expect(r.outcome).toBe('needs-investigation');
    expect(r.reason).toMatch(/1 of 1 Deployments NOT healthy: .*-web; alice stopped: web is crashlooping/);
    expect(evidenceText(r)).toMatch(/condition Available is missing/);
    expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
  });

  test('an override of unhealthy needs a reason and is recorded; then a rejection ends rejected', async () => {
    const o = { release: unique('web'), namespace: unique('wf') };
    await makeStuck['pending-upgrade'](helm, o);
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'unhealthy');
      await expect(decide(rig.env.client, h.workflowId, { action: 'continue', by: 'alice', reason: ' ' })).rejects.toThrow(WorkflowUpdateFailedError);
      await decide(rig.env.client, h.workflowId, { action: 'continue', by: 'alice', reason: 'test cluster has no controllers' });
      await waitForStatus(h, (x) => x.hold === 'approval');
      await decideVerified(rig.env.client, h.workflowId, { action: 'reject', by: 'bob', reason: 'not during the freeze' });
    }, 'rejected');
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'bob rejected: not during the freeze', approval: { action: 'reject', by: 'bob' } });
    expect(evidenceText(r)).toMatch(/alice \(unverified, allowed by the operator's policy\) via temporal: continue, because test cluster has no controllers/);
    expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
  });

  test('a release that is not stuck: nothing to do', async () => {
    const o = { release: unique('web'), namespace: unique('wf') };
    await helm.ok(['install', o.release, TINY_CHART, '-n', o.namespace, '--create-namespace']);
    await markHealthy(o.namespace);
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project }, undefined, 'nothing-to-do');
    expect(r).toMatchObject({ outcome: 'nothing-to-do', reason: expect.stringMatching(/not stuck; the newest revision 1 is deployed/) });
  });

  test('a pending revision younger than the minimum age is waited for (it may be a live upgrade)', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project, policy: { minPendingAge: '1h' } }, async (h) => {
      const s = await waitForStatus(h, (x) => x.step === 'identify' && !!x.waitingFor);
      expect(s.waitingFor).toBe('the pending revision to be 1h00m old');
      expect(s.evidence.map((e) => e.summary).join('\n')).toMatch(/revision 3 is only \d+s old, younger than 1h00m: it may be a live upgrade, waiting/);
      await h.cancel();
    }).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(WorkflowFailedError);
    expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
  });

  test('approval timeout escalates and keeps waiting; wrong people and wrong actions are refused', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-silent.txt'));
    const r = await incident(o, { project, policy: { escalateAfter: '300ms' } }, async (h) => {
      const s = await waitForStatus(h, (x) => x.escalations >= 2);
      expect(s.hold).toBe('approval');
      await expect(decide(rig.env.client, h.workflowId, { action: 'approve', by: 'mallory', reason: 'trust me' })).rejects.toMatchObject({
        cause: { message: 'mallory is not an allowed approver' },
      });
      await expect(decide(rig.env.client, h.workflowId, { action: 'continue', by: 'alice', reason: 'x' })).rejects.toMatchObject({
        cause: { message: 'the workflow waits for approval: approve or reject, not continue' },
      });
      await h.signal(decideSignal, { action: 'approve', by: 'mallory', reason: 'signals are checked too' });
      await waitForStatus(h, (x) => x.evidence.some((e) => /ignored a decision from mallory: mallory is not an allowed approver/.test(e.summary)));
      await approve(h.workflowId, 'bob');
    }, 'escalated-then-approved');
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.escalations).toBeGreaterThanOrEqual(2);
    expect(r.approval).toMatchObject({ by: 'bob' });
    expect(evidenceText(r)).toMatch(/escalation 2: still waiting for approval by alice or bob/);
  });

  test('a release changed after approval is not touched: needs-investigation', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const before = await helm.history(o.release, o.namespace);
    const r = await incident(o, { project }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      // Someone writes the pending record meanwhile: it gets a new resourceVersion.
      await relabelPending(o.namespace, `sh.helm.release.v1.${o.release}.v3`);
      await approve(h.workflowId);
    });
    expect(r.outcome).toBe('needs-investigation');
    expect(r.reason).toMatch(/the release changed after approval; nothing was deleted: the pending records changed since approval/);
    expect(r.unlock).toBeUndefined();
    expect((await helm.history(o.release, o.namespace)).map((x) => [x.revision, x.status])).toEqual(before.map((x) => [x.revision, x.status]));
  });

  test("someone's helm rollback over the lock during the wait: nothing-to-do, naming the pending revision it left buried", async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      // At the hold, before any decision: revision 4 (a copy of 2) deployed on top; 3 stays pending.
      expect(await recordRollbackOverLock(o.namespace, o.release, 2)).toBe(4);
      await notifyAlert(rig.env.client, h.workflowId, { status: 'resolved', fingerprint: 'f1' });
    });
    expect(r.outcome).toBe('nothing-to-do');
    expect(r.reason).toBe(
      `the alert resolved and the release is no longer stuck: ${o.namespace}/${o.release}: not stuck; the newest revision 4 is deployed. Revision 3 (pending-upgrade) is still pending below a newer revision: an operation that never finished, buried (by someone's rollback or deploy over the lock?); it holds no lock and is left as it is.`,
    );
    expect(r.unlock).toBeUndefined();
    expect((await helm.history(o.release, o.namespace)).map((x) => [x.revision, x.status])).toEqual([
      [1, 'superseded'],
      [2, 'superseded'],
      [3, 'pending-upgrade'],
      [4, 'deployed'],
    ]);
  });

  test('a dry run that would change things ends needs-review, listing the objects', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'failed', trace('helmfile-changes.txt'));
    const r = await incident(o, { project }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      await approve(h.workflowId);
    }, 'needs-review');
    expect(r.outcome).toBe('needs-review');
    expect(r.verification?.verified).toBe(true);
    expect(r.rerun?.diff.releases[0]?.changes).toEqual([
      { namespace: 'gitlab', name: 'gitlab-webservice-default', kind: 'Deployment', change: 'changed' },
      { namespace: 'gitlab', name: 'gitlab-rails-secret', kind: 'Secret', change: 'changed' },
    ]);
  });

  test('a re-run job that fails without a diff ends needs-investigation', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => {
      rig.gitlab.setJob(p, job.id, 'running');
      setTimeout(() => rig.gitlab.setJob(p, job.id, 'failed', trace('helm-diff-error.txt')), 600);
    };
    const r = await incident(o, { project }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      await approve(h.workflowId);
    });
    expect(r.outcome).toBe('needs-investigation');
    expect(r.reason).toMatch(/the re-run job ended failed: the diff did not finish: Error: Kubernetes cluster unreachable/);
  });

  test('cancellation stops cleanly and is recorded; nothing deleted', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const tq = taskQueue();
    const worker = await newWorker(rig, tq, { project });
    let id = '';
    const err = await worker.runUntil(async () => {
      const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
      id = handle.workflowId;
      await waitForStatus(handle, (x) => x.hold === 'approval');
      await handle.cancel();
      const e = await handle.result().catch((x: unknown) => x);
      await captureHistory('cancelled', handle);
      return e;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
    const history = await rig.env.client.workflow.getHandle(id).fetchHistory();
    const reported = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reportOutcome');
    expect(reported).toHaveLength(1);
    expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
  });

  test('an explicitly configured auto-approval acts without a human, and says whose policy it was', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-simple-noop.txt'));
    const r = await incident(o, { project, clusterPolicy: { autoApprove: { configuredBy: 'sre-lead', reason: 'staging only' } } });
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.approval).toMatchObject({ action: 'approve', by: 'policy (configured by sre-lead)', reason: 'staging only' });
  });

  test('bad input starts nothing (client) and fails fast (workflow)', async () => {
    const o = { release: 'Bad_Name', namespace: 'ok' };
    const input = remediationInput(o);
    await expect(startRemediation(rig.env.client, input, taskQueue())).rejects.toThrow(/^invalid remediation input: release name "Bad_Name" is not a valid Helm release name$/);
    await expect(rig.env.client.workflow.getHandle(incidentId(o)).describe()).rejects.toThrow(/not found/i);
    // Straight to Temporal, past the client's check: the workflow refuses at once.
    const tq = taskQueue();
    const worker = await newWorker(rig, tq);
    const err = await worker.runUntil(
      rig.env.client.workflow.execute('remediateStuckRelease', { workflowId: unique('bad'), taskQueue: tq, args: [input] }).catch((e: unknown) => e),
    );
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/not a valid Helm release name/) });
  });
});

describe("the operator's policy, verified decisions, the plan", () => {
  const history = (id: string) => rig.env.client.workflow.getHandle(id).fetchHistory();
  const updatesIn = async (id: string) => (await history(id)).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes).length;
  const refusal = (why: RegExp | string) => ({ cause: { message: typeof why === 'string' ? why : expect.stringMatching(why) } });

  test("a start carrying a policy, GitLab projects and autoApprove: all ignored, the operator's policy applies and is recorded", async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const hostile = {
      ...remediationInput(o),
      policy: { approvers: ['mallory'], autoApprove: { configuredBy: 'mallory', reason: 'trust me' }, minPendingAge: '0s' },
      gitlab: [{ project: 999_999, environment: 'nowhere' }],
      autoApprove: { configuredBy: 'mallory', reason: 'trust me' },
    } as RemediationInput;
    const r = await incident(o, { project }, async (h) => {
      const s = await waitForStatus(h, (x) => x.hold === 'approval');
      expect(s.approval).toBeUndefined(); // not auto-approved
      await expect(decide(rig.env.client, h.workflowId, { action: 'approve', by: 'mallory', reason: 'my policy', plan: s.view.plan!.digest })).rejects.toMatchObject(refusal('mallory is not an allowed approver'));
      await decideVerified(rig.env.client, h.workflowId, { action: 'reject', by: 'alice', reason: 'checking the ignored policy' });
    }, undefined, hostile);
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'alice rejected: checking the ignored policy' });
    expect(r.evidence[1]).toMatchObject({ summary: "the input's policy and gitlab and autoApprove were ignored; policy is the operator's", ok: false });
    expect(evidenceText(r)).toMatch(/the operator's policy \(digest [0-9a-f]{12}\): approvers alice, bob; .*watching \d+ \(gprd\)/);
    expect(evidenceText(r)).not.toMatch(/999999|mallory \(/);
    // In history: the policy as loadPolicy returned it, and its digest is the one in the evidence.
    const events = (await history(r.incident)).events!;
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadPolicy')!;
    const loaded = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
    const result = JSON.parse(Buffer.from(loaded.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data!).toString()) as { digest: string; policy: { approvers: string[] } };
    expect(result.policy.approvers).toEqual(['alice', 'bob']);
    expect(evidenceText(r)).toContain(`digest ${result.digest}`);
  });

  test('an unverified decision is refused and leaves no event; serve\'s signature is accepted, another key\'s refused', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-simple-noop.txt'));
    const r = await incident(o, { project, policy: { allowUnverifiedDecisions: false } }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      const plan = await currentPlan(rig.env.client, h.workflowId);
      const d = { action: 'approve' as const, by: 'alice', reason: 'trust me', plan };
      await expect(decide(rig.env.client, h.workflowId, d)).rejects.toMatchObject(refusal(/^alice's identity not verified: the decision carries no proof of who made it/));
      await expect(decide(rig.env.client, h.workflowId, { ...d, proof: proofFor(h.workflowId, d, { ...(await bindingOf(rig.env.client, h.workflowId)), key: STRANGER_KEY }) })).rejects.toMatchObject(
        refusal("alice's identity not verified: the proof is not signed by a key the operator configured"),
      );
      await expect(decide(rig.env.client, h.workflowId, { ...d, by: 'bob', proof: proofFor(h.workflowId, d, await bindingOf(rig.env.client, h.workflowId)) })).rejects.toMatchObject(refusal(/^bob's identity not verified/));
      await h.signal(decideSignal, d);
      await waitForStatus(h, (x) => x.evidence.some((e) => /ignored a decision from alice: alice's identity not verified/.test(e.summary)));
      expect(await updatesIn(h.workflowId)).toBe(0);
      expect((await waitForStatus(h, () => true)).hold).toBe('approval');
      await decide(rig.env.client, h.workflowId, { ...d, reason: 'signed by serve', proof: proofFor(h.workflowId, { ...d, reason: 'signed by serve' }, await bindingOf(rig.env.client, h.workflowId)) });
      expect(await updatesIn(h.workflowId)).toBe(2); // accepted and completed: the one verified decision
    });
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.approval).toMatchObject({ by: 'alice', verifiedBy: 'token', via: 'api', reason: 'signed by serve' });
  });

  test('a group approver: group:sre matches only a verified member of sre', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project, clusterPolicy: { approvers: ['group:sre'] } }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      const d = { action: 'reject' as const, by: 'carol', reason: 'not now' };
      await expect(decideVerified(rig.env.client, h.workflowId, d, { groups: ['dev'] })).rejects.toMatchObject(refusal('carol is not an allowed approver'));
      // Unverified decisions are allowed here, but a group is only what a verified proof states.
      await expect(decide(rig.env.client, h.workflowId, { ...d, by: 'group:sre', plan: await currentPlan(rig.env.client, h.workflowId) })).rejects.toMatchObject(refusal('group:sre is not an allowed approver'));
      await decideVerified(rig.env.client, h.workflowId, d, { verifiedBy: 'sso', via: 'page', groups: ['sre'] });
    });
    expect(r).toMatchObject({ outcome: 'rejected', approval: { by: 'carol', verifiedBy: 'sso', groups: ['sre'] } });
  });

  test('two-person rule: the first approval keeps the gate open, the same person twice is refused, a second approver unlocks', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-simple-noop.txt'));
    const r = await incident(o, { project, policy: { allowUnverifiedDecisions: false }, clusterPolicy: { approvals: 2 } }, async (h) => {
      const asked = await waitForStatus(h, (x) => x.hold === 'approval');
      expect(asked.waitingFor).toMatch(/^2 approvals by distinct people among alice or bob to back up and delete .*; plan [0-9a-f]{12}; 0 of 2 approvals$/);
      await decideVerified(rig.env.client, h.workflowId, { action: 'approve', by: 'alice', reason: 'first look' }, { verifiedBy: 'sso', via: 'page' });
      const one = await waitForStatus(h, (x) => x.approvals?.length === 1);
      expect(one.hold).toBe('approval');
      expect(one.waitingFor).toMatch(/; 1 of 2 approvals: alice \(sso\)$/);
      await expect(decideVerified(rig.env.client, h.workflowId, { action: 'approve', by: 'alice', reason: 'again' })).rejects.toMatchObject(
        refusal('alice has already approved this plan; another approver must give the next approval'),
      );
      await decideVerified(rig.env.client, h.workflowId, { action: 'approve', by: 'bob', reason: 'second look' });
    }, 'two-person-approved');
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.approvals?.map((a) => [a.by, a.verifiedBy, a.via])).toEqual([['alice', 'sso', 'page'], ['bob', 'token', 'api']]);
    expect(r.approval).toMatchObject({ by: 'bob' });
    expect(evidenceText(r)).toMatch(/1 of 2 approvals: alice \(sso\); the gate stays open for another approver/);
  });

  test('two-person rule: a rejection by either approver stops the incident', async () => {
    const o = await stuckRelease();
    const before = await helm.history(o.release, o.namespace);
    const { project } = gitlabProject(rig.gitlab);
    const r = await incident(o, { project, policy: { allowUnverifiedDecisions: false }, clusterPolicy: { approvals: 2 } }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      await approve(h.workflowId, 'alice');
      await waitForStatus(h, (x) => x.approvals?.length === 1);
      await decideVerified(rig.env.client, h.workflowId, { action: 'reject', by: 'bob', reason: 'I disagree' });
    });
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'bob rejected: I disagree' });
    expect(r.approvals?.map((a) => a.action)).toEqual(['approve', 'reject']);
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
  });

  test('a decision on an older plan is refused; a first approval of the older plan no longer counts', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helm-diff-simple-noop.txt'));
    const r = await incident(o, { project, policy: { allowUnverifiedDecisions: false }, clusterPolicy: { approvals: 2 } }, async (h) => {
      await waitForStatus(h, (x) => x.hold === 'approval');
      const older = await currentPlan(rig.env.client, h.workflowId);
      await approve(h.workflowId, 'alice');
      // The pending record is written meanwhile; the alert resolves, the workflow looks again.
      await relabelPending(o.namespace, `sh.helm.release.v1.${o.release}.v3`);
      await notifyAlert(rig.env.client, h.workflowId, { status: 'resolved', fingerprint: 'f1' });
      const now = await waitForStatus(h, (x) => !!x.view.plan && x.view.plan.digest !== older);
      const newer = now.view.plan!.digest;
      expect(now.evidence.map((e) => e.summary)).toContainEqual(`the pending records changed; approval is now asked for plan ${newer}: back up and delete sh.helm.release.v1.${o.release}.v3 (pending-upgrade, uid ${now.view.plan!.records[0]!.uid}); alice's approval of plan ${older} no longer counts`);
      expect(now.waitingFor).toMatch(/; 0 of 2 approvals$/);
      await expect(decideVerified(rig.env.client, h.workflowId, { action: 'approve', by: 'bob', reason: 'saw it earlier', plan: older })).rejects.toMatchObject(
        refusal(`the plan changed since you looked: now ${newer}: back up and delete sh.helm.release.v1.${o.release}.v3 (pending-upgrade, uid ${now.view.plan!.records[0]!.uid})`),
      );
      await approve(h.workflowId, 'bob');
      await waitForStatus(h, (x) => /1 of 2 approvals: bob/.test(x.waitingFor ?? ''));
      await approve(h.workflowId, 'alice');
    });
    expect(r.outcome).toBe('unstuck-and-verified');
    expect(r.approvals?.map((a) => a.by)).toEqual(['alice', 'bob', 'alice']);
    expect(new Set(r.approvals?.map((a) => a.plan)).size).toBe(2);
  });

  test('an unknown cluster is refused: nothing is looked at, nothing done', async () => {
    const o = { release: unique('web'), namespace: unique('wf') };
    const r = await incident(o, {}, undefined, undefined, { ...remediationInput(o), cluster: 'nowhere' });
    expect(r).toMatchObject({ outcome: 'failed', reason: 'cluster "nowhere" is not configured; nothing was done' });
    const names = (await history(r.incident)).events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(names).toEqual(['loadPolicy', 'reportOutcome']);
  });
});
