// The remediation workflow on the real Temporal dev server, the real API server and real helm,
// with the fake GitLab. Each test is one branch of the runbook, asserting the outcome and the
// evidence the workflow recorded.
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { startRemediation, decide } from '../../client/remediation';
import type { RemediationResult } from '../../workflows/remediate';
import { decideSignal } from '../../workflows/definitions';
import { CHART_SECRETS, helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import {
  gitlabProject,
  incidentId,
  newWorker,
  remediationInput,
  startRig,
  taskQueue,
  trace,
  waitForStatus,
  type Rig,
} from './incident-rig';
import { markHealthy } from './deployments';
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
  const worker = await newWorker(rig, tq);
  const result = await worker.runUntil(async () => {
    const { handle, started } = await startRemediation(rig.env.client, remediationInput({ ...o, project }), tq);
    expect(started).toBe(true);
    const waiting = await waitForStatus(handle, (s) => s.hold === 'approval');
    expect(waiting.waitingFor).toMatch(/approval by alice or bob to back up and delete sh\.helm\.release\.v1\.web-\w+\.v3 \(pending-upgrade, uid [0-9a-f-]+\)/);
    // A second start for the same release joins this incident.
    const again = await startRemediation(rig.env.client, remediationInput({ ...o, project }), tq);
    expect(again.started).toBe(false);
    expect(again.handle.workflowId).toBe(handle.workflowId);
    expect(await decide(rig.env.client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'runbook checks are green' })).toEqual({ accepted: true, step: 'approval' });
    return handle.result();
  });

  expect(result.outcome).toBe('unstuck-and-verified');
  expect(result.approval).toMatchObject({ action: 'approve', by: 'alice' });
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
