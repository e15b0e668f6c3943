// Repeat offenders on the real stack: a release unlocked as often as its cluster's policy allows
// is held for a human at its next incident, with its earlier incidents in the evidence.
import { startRemediation } from '../../client/incidents';
import { incidentsQuery } from '../../decisions/incident-search';
import { markHealthy } from './deployments';
import { CLUSTER, helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import { decideVerified, gitlabProject, newWorker, remediationInput, startRig, taskQueue, trace, waitForStatus, type Rig } from './incident-rig';
import { waitUntil } from './process';
import { hangAndKill, makeStuck } from './stuck';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
}, 120_000);
afterAll(() => rig?.stop());

const helm = helmFor(3);

test('A release unlocked more often than its policy allows is held for a human, with its earlier incidents in the evidence', async () => {
  const o = { release: unique('web'), namespace: unique('repeat') };
  await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
  await markHealthy(o.namespace);
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const tq = taskQueue();
  // This cluster's operator allows one unlock of a release an hour.
  const worker = await newWorker(rig, tq, { project, clusterPolicy: { repeatLimit: { unlocks: 1, window: '1h' } } });
  await worker.runUntil(async () => {
    const first = (await startRemediation(rig.env.client, remediationInput(o), tq)).handle;
    const asked = await waitForStatus(first, (s) => s.hold === 'approval');
    expect(asked.view.repeats).toEqual({ summary: 'no earlier incident of this release in 1h00m', unlocks: 0, held: false });
    await decideVerified(rig.env.client, first.workflowId, { action: 'approve', by: 'alice', reason: 'first time' });
    expect((await first.result()).outcome).toBe('unstuck-and-verified');
    // Visibility is eventually consistent: the second incident is started once the first is listed ended.
    const query = incidentsQuery({ cluster: CLUSTER, namespace: o.namespace, release: o.release, outcome: 'unstuck-and-verified' });
    await waitUntil('the first incident listed as unstuck-and-verified', async () => (await rig.env.client.workflow.count(query)).count === 1, { timeoutMs: 30_000, intervalMs: 200 });

    // Stuck again, the same way.
    await hangAndKill(helm, ['upgrade', o.release, TINY_CHART, '-n', o.namespace, helm.waitFlag, '--set', 'tag=3.0.0'], o.release, o.namespace, { revision: 3, status: 'pending-upgrade' });
    await markHealthy(o.namespace);
    const second = (await startRemediation(rig.env.client, remediationInput(o), tq)).handle;
    expect(second.workflowId).toBe(first.workflowId);
    const held = await waitForStatus(second, (s) => s.hold !== undefined);
    expect(held.hold).toBe('repeated');
    expect(held.view.repeats).toMatchObject({ unlocks: 1, held: true });
    const said = /^unlocked 1 time in 1h00m \(1 earlier incident: \d{4}-\d\d-\d\d \d\d:\d\d unstuck-and-verified\): the policy allows 1 unlock in 1h00m \(repeatLimit\), so a human should look at why it keeps getting stuck before it is unlocked again$/;
    expect(held.view.repeats?.summary).toMatch(said);
    expect(held.evidence.filter((e) => e.kind === 'check' && said.test(e.summary))).toEqual([expect.objectContaining({ step: 'identify', ok: false })]);
    expect(held.waitingFor).toMatch(/^a human to look at why it keeps getting stuck, then continue \(with a reason\) or stop: unlocked 1 time/);
    expect(await helm.history(o.release, o.namespace)).toContainEqual(expect.objectContaining({ revision: 3, status: 'pending-upgrade' }));

    // Looked at: the approval request then shows the earlier incidents too.
    await decideVerified(rig.env.client, second.workflowId, { action: 'continue', by: 'bob', reason: 'the CI timeout was raised; it will not recur' });
    const approval = await waitForStatus(second, (s) => s.hold === 'approval');
    expect(approval.waitingFor).toMatch(/^approval by alice or bob \(unlocked 1 time in 1h00m \(1 earlier incident: \d{4}-\d\d-\d\d \d\d:\d\d unstuck-and-verified\)\) to back up and delete sh\.helm\.release\.v1\.web-\w+\.v3 .*; plan [0-9a-f]{12}$/);
    await decideVerified(rig.env.client, second.workflowId, { action: 'reject', by: 'alice', reason: 'enough for this test' });
    expect((await second.result()).outcome).toBe('rejected');
  });
}, 240_000);
