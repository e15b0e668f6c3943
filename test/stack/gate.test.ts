// Issue 20's attacks on the real stack (Temporal dev server, kube-apiserver, helm): each worked
// before the acts checked their approval themselves, and each is now refused with a typed
// failure and changes nothing, read before and after.
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { startRemediation, decide, notifyAlert } from '../../client/incidents';
import { CLUSTER, helmFor, stackActivities, unique } from './fixtures';
import {
  activitiesFor,
  bindingOf,
  decideVerified,
  gitlabProject,
  incidentId,
  newWorker,
  operatorConfig,
  proofFor,
  remediationInput,
  startRig,
  taskQueue,
  waitForStatus,
  type Rig,
} from './incident-rig';
import { markHealthy } from './deployments';
import { relabelPending } from './records';
import { makeStuck } from './stuck';
import type { RogueInput, RogueResult } from './hostile/acts';

let rig: Rig;
let rogueBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  [rig, rogueBundle] = await Promise.all([
    startRig(),
    bundleWorkflowCode({ workflowsPath: require.resolve('./hostile/acts'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never }),
  ]);
}, 120_000);
afterAll(() => rig?.stop());

const helm = helmFor(3);
const reads = stackActivities();

async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('gate') };
  await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  return o;
}

/** The pending records as the API server has them now: uid and resourceVersion, which any write changes. */
async function records(o: { release: string; namespace: string }) {
  const h = await reads.readReleaseHistory({ cluster: CLUSTER, ...o });
  return h.state.pending.map((r) => `${r.objectName}@${r.uid}/${r.resourceVersion}`);
}

/** Run the attacker's workflow `type` under `workflowId` on a queue of their own, against the real worker's queue. */
async function rogue(victimQueue: string, x: Omit<RogueInput, 'victimQueue'>, o: { workflowId: string; type?: 'remediateStuckRelease' | 'steal' }): Promise<RogueResult> {
  const queue = taskQueue();
  const worker = await Worker.create({ connection: rig.env.nativeConnection, taskQueue: queue, workflowBundle: rogueBundle });
  return worker.runUntil(rig.env.client.workflow.execute(o.type ?? 'remediateStuckRelease', { taskQueue: queue, workflowId: o.workflowId, args: [{ ...x, victimQueue }] }) as Promise<RogueResult>);
}

describe("an attacker's own workflow schedules our acts on the real worker", () => {
  test('unlockRelease with the uid and resourceVersion it just read, no approval: refused, the record untouched', async () => {
    const o = await stuckRelease();
    const before = await records(o);
    const tq = taskQueue();
    const victim = await newWorker(rig, tq);
    const r = await victim.runUntil(rogue(tq, { ref: { cluster: CLUSTER, ...o }, act: 'unlock' }, { workflowId: incidentId(o) }));
    expect(r).toEqual({ refused: { type: 'ApprovalRefused', message: expect.stringMatching(/^the unlock refused: plan [0-9a-f]{12} needs 1 approval by distinct approvers configured now; it has no valid approval; nothing was changed$/) } });
    expect(await records(o)).toEqual(before);
    expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
  });

  test('under a made-up workflow id and type: refused for who calls', async () => {
    const o = await stuckRelease();
    const before = await records(o);
    const tq = taskQueue();
    const victim = await newWorker(rig, tq);
    const r = await victim.runUntil(rogue(tq, { ref: { cluster: CLUSTER, ...o }, act: 'unlock' }, { workflowId: unique('steal'), type: 'steal' }));
    expect(r).toMatchObject({ refused: { type: 'ApprovalRefused', message: expect.stringMatching(/^the unlock refused: called by a steal workflow/) } });
    expect(await records(o)).toEqual(before);
  });

  test("a real approval, copied from a run that was terminated, handed to the act by a new run under the same id: refused", async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const tq = taskQueue();
    const victim = await newWorker(rig, tq, { project, policy: { allowUnverifiedDecisions: false } });
    await victim.runUntil(async () => {
      const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
      const s = await waitForStatus(handle, (x) => x.hold === 'approval');
      // What alice would sign for this incident's approval, as serve signs it (and as history keeps it).
      const d = { action: 'approve' as const, by: 'alice', reason: 'checked', plan: s.view.plan!.digest };
      const copied = { ...d, proof: proofFor(handle.workflowId, d, await bindingOf(rig.env.client, handle.workflowId)) };
      await handle.terminate('an attacker restarts the incident as their own');
      const before = await records(o);
      const r = await rogue(tq, { ref: { cluster: CLUSTER, ...o }, act: 'unlock', approvals: [copied] }, { workflowId: handle.workflowId });
      expect(r).toMatchObject({ refused: { type: 'ApprovalRefused', message: expect.stringMatching(/alice: the proof answers another run of this incident/) } });
      expect(await records(o)).toEqual(before);
    });
  });

  test('retryCiJob for a job of a project no cluster is configured for: refused before GitLab is asked to retry', async () => {
    const o = await stuckRelease();
    const { project } = gitlabProject(rig.gitlab);
    const other = gitlabProject(rig.gitlab);
    const retried: number[] = [];
    rig.gitlab.onRetry = (_p, job) => void retried.push(job.id);
    const tq = taskQueue();
    const victim = await newWorker(rig, tq, { project });
    const r = await victim.runUntil(rogue(tq, { ref: { cluster: CLUSTER, ...o }, act: 'retry', project: other.project, jobId: other.failedJob.id }, { workflowId: incidentId(o) }));
    expect(r).toMatchObject({ refused: { type: 'ApprovalRefused', message: expect.stringMatching(/^the re-run of job \d+ refused: plan .* it has no valid approval/) } });
    expect(retried).toEqual([]);
  });
});

test("a rogue answer to loadPolicy (auto-approve) is recorded, but the real unlock checks the operator's configuration and refuses", async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const config = operatorConfig(rig, { project, policy: { allowUnverifiedDecisions: false } });
  const honest = activitiesFor(rig.gitlab.url, config);
  const forged = activitiesFor(rig.gitlab.url, { ...config, policy: { ...config.policy, autoApprove: { configuredBy: 'mallory', reason: 'trust me' } } });
  const tq = taskQueue();
  // One worker that answers loadPolicy as the rogue would, and serves the real acts with the operator's configuration.
  const worker = await Worker.create({ connection: rig.env.nativeConnection, taskQueue: tq, workflowBundle: rig.bundle, activities: { ...honest, loadPolicy: forged.loadPolicy } });
  const before = await records(o);
  const r = await worker.runUntil(async () => (await startRemediation(rig.env.client, remediationInput(o), tq)).handle.result());
  expect(r.outcome).toBe('needs-investigation');
  expect(r.reason).toMatch(/^the unlock was refused at the last moment: the unlock refused: plan [0-9a-f]{12} needs 1 approval .* it has no valid approval; nothing was changed$/);
  expect(await records(o)).toEqual(before);
});

test("alice's continue at the ci-busy hold, sent again at the unhealthy hold, is refused there", async () => {
  const o = { release: unique('web'), namespace: unique('gate') };
  await makeStuck['pending-upgrade'](helm, o); // its Deployment never became ready
  const { project } = gitlabProject(rig.gitlab);
  const job = rig.gitlab.addJob(project, { name: 'gprd:upgrade', status: 'running' });
  const tq = taskQueue();
  const worker = await newWorker(rig, tq, { project, policy: { allowUnverifiedDecisions: false } });
  const r = await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await waitForStatus(handle, (x) => x.hold === 'ci-busy');
    const d = { action: 'continue' as const, by: 'alice', reason: 'that job deploys elsewhere' };
    const signed = { ...d, proof: proofFor(handle.workflowId, d, await bindingOf(rig.env.client, handle.workflowId)) };
    await decide(rig.env.client, handle.workflowId, signed);
    rig.gitlab.setJob(project, job.id, 'success', '');
    await waitForStatus(handle, (x) => x.hold === 'unhealthy');
    await expect(decide(rig.env.client, handle.workflowId, signed)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/^alice's identity not verified: the proof answers the ci-busy hold \(number 1\), not the unhealthy hold \(number 2\) open now$/) },
    });
    await decideVerified(rig.env.client, handle.workflowId, { action: 'abort', by: 'bob', reason: 'web is down' });
    return handle.result();
  });
  expect(r.outcome).toBe('needs-investigation');
  expect(r.evidence.map((e) => e.summary).join('\n')).not.toMatch(/alice .*: continue, because that job deploys elsewhere[\s\S]*alice .*: continue/);
});

test('one person under two names (token alice, SSO asmith, joined by the operator) is one approval of a two-person rule', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const config = operatorConfig(rig, { project, policy: { allowUnverifiedDecisions: false, approvers: ['alice', 'bob', 'group:sre'], approvals: 2 } });
  const worker = await Worker.create({
    connection: rig.env.nativeConnection,
    taskQueue: tq,
    workflowBundle: rig.bundle,
    activities: activitiesFor(rig.gitlab.url, { ...config, people: { alice: ['token:alice', 'sso:asmith'] } }),
  });
  await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await waitForStatus(handle, (x) => x.hold === 'approval');
    await decideVerified(rig.env.client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'checked' });
    await expect(decideVerified(rig.env.client, handle.workflowId, { action: 'approve', by: 'asmith', reason: 'me again' }, { verifiedBy: 'sso', groups: ['sre'] })).rejects.toMatchObject({
      cause: { message: 'asmith has already approved this plan (as alice: one person, one approval); another approver must give the next approval' },
    });
    expect((await waitForStatus(handle, () => true)).hold).toBe('approval');
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  });
  expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
});

test("a workflow started under release A's id with release B's input is refused before anything is read", async () => {
  const a = await stuckRelease();
  const b = await stuckRelease();
  const before = await records(b);
  const tq = taskQueue();
  const worker = await newWorker(rig, tq);
  const err = await worker.runUntil(rig.env.client.workflow.execute('remediateStuckRelease', { taskQueue: tq, workflowId: incidentId(a), args: [remediationInput(b)] }).catch((e: unknown) => e));
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/^workflow id helm-unstuck\/local\/.* is not helm-unstuck\/local\/.*, the id of the release the input names$/) });
  expect(await records(b)).toEqual(before);
});

test('revocation reaches a waiting incident: an approver removed from the configuration after the incident began no longer counts at the act', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const atStart = operatorConfig(rig, { project, policy: { allowUnverifiedDecisions: false } });
  let now = atStart;
  const worker = await Worker.create({ connection: rig.env.nativeConnection, taskQueue: tq, workflowBundle: rig.bundle, activities: activitiesFor(rig.gitlab.url, () => now) });
  const before = await records(o);
  const r = await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    await waitForStatus(handle, (x) => x.hold === 'approval');
    // alice leaves the team: the operator's configuration no longer lists her.
    now = { ...atStart, policy: { ...atStart.policy, approvers: ['bob'] } };
    await decideVerified(rig.env.client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'approved before the change reached the workflow' });
    return handle.result();
  });
  expect(r.outcome).toBe('needs-investigation');
  expect(r.reason).toMatch(/the unlock refused: plan [0-9a-f]{12} needs 1 approval .* it has no valid approval: alice is not an approver now; nothing was changed$/);
  expect(await records(o)).toEqual(before);
});

test('an approval given while the release is read again, on the plan shown then, does not approve the new plan', async () => {
  const o = await stuckRelease();
  const { project } = gitlabProject(rig.gitlab);
  const tq = taskQueue();
  const id = incidentId(o);
  let reads = 0;
  let older = '';
  // alice approves the plan she sees, just as the workflow reads the release again after the alert resolved.
  const worker = await newWorker(rig, tq, { project, policy: { allowUnverifiedDecisions: false } }, (real) => ({
    async readReleaseHistory(input) {
      if (++reads === 2) await decideVerified(rig.env.client, id, { action: 'approve', by: 'alice', reason: 'looked fine', plan: older });
      return real.readReleaseHistory(input);
    },
  }));
  const before = await records(o);
  const r = await worker.runUntil(async () => {
    const { handle } = await startRemediation(rig.env.client, remediationInput(o), tq);
    older = (await waitForStatus(handle, (x) => x.hold === 'approval')).view.plan!.digest;
    await relabelPending(o.namespace, `sh.helm.release.v1.${o.release}.v3`);
    await notifyAlert(rig.env.client, handle.workflowId, { status: 'resolved', fingerprint: 'f1' });
    const now = await waitForStatus(handle, (x) => x.evidence.some((e) => /came while the release was read again/.test(e.summary)));
    expect(now.hold).toBe('approval');
    expect(now.view.plan!.digest).not.toBe(older);
    await decideVerified(rig.env.client, handle.workflowId, { action: 'reject', by: 'bob', reason: 'nobody approved this plan' });
    return handle.result();
  });
  expect(r).toMatchObject({ outcome: 'rejected', reason: 'bob rejected: nobody approved this plan' });
  expect(r.evidence.map((e) => e.summary)).toContainEqual(expect.stringMatching(new RegExp(`^alice's approval of plan ${older} came while the release was read again; it does not count for plan [0-9a-f]{12}`)));
  expect((await records(o)).length).toBe(before.length);
  expect(await helm.status(o.release, o.namespace)).toMatchObject({ status: 'pending-upgrade' });
});
