// Starting and steering incidents from outside: the CLI, the webhook receiver, tests.
import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { workflowIdFor, type Decision } from '../decisions/vocabulary';
import { validateRemediationInput, type RemediationInput } from '../decisions/schemas';
import { alertSignal, decideUpdate, statusQuery, type AlertNotice, type RemediationStatus } from '../workflows/definitions';
import type { remediateStuckRelease } from '../workflows/remediate';
import { retriesOf } from './retries';

import { REMEDIATION_WORKFLOW_TYPE } from '../decisions/mandate';

export const WORKFLOW_TYPE = REMEDIATION_WORKFLOW_TYPE;

export class InvalidRemediationInput extends Error {
  override name = 'InvalidRemediationInput';
  constructor(readonly problems: string[]) {
    super(`invalid remediation input: ${problems.join('; ')}`);
  }
}

export type RemediationHandle = WorkflowHandle<typeof remediateStuckRelease>;

/**
 * Start the incident for this release, or join the one already running: the workflow id is the
 * release's, so a second alert or a second operator lands on the same incident. Bad input is
 * refused here and starts nothing.
 */
export async function startRemediation(
  client: Client,
  input: RemediationInput,
  taskQueue: string,
): Promise<{ handle: RemediationHandle; started: boolean }> {
  const problems = validateRemediationInput(input);
  if (problems.length > 0) throw new InvalidRemediationInput(problems);
  const workflowId = workflowIdFor(input.cluster, input.namespace, input.release);
  try {
    const handle = await client.workflow.start<typeof remediateStuckRelease>(WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      // A running incident for the release is joined below; a finished one may be followed by a new one.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    return { handle, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return { handle: client.workflow.getHandle<typeof remediateStuckRelease>(workflowId), started: false };
  }
}

/** Approve, reject, continue or abort, and learn at once whether the workflow accepted it. */
export async function decide(client: Client, workflowId: string, d: Decision): Promise<{ accepted: true; step: string }> {
  return client.workflow.getHandle(workflowId).executeUpdate(decideUpdate, { args: [d] });
}

export async function notifyAlert(client: Client, workflowId: string, notice: AlertNotice): Promise<void> {
  await client.workflow.getHandle(workflowId).signal(alertSignal, notice);
}

/**
 * An incident's status: the workflow's own answer while it runs; once it has finished, from its
 * result (a query would need a worker to replay it). WorkflowNotFoundError if there is none.
 */
export async function incidentStatus(client: Client, id: string): Promise<RemediationStatus> {
  const handle = client.workflow.getHandle<typeof remediateStuckRelease>(id);
  const d = await handle.describe();
  if (d.status.name === 'COMPLETED') {
    const r = await handle.result();
    return { incident: id, step: 'done', evidence: r.evidence, escalations: r.escalations, outcome: r.outcome, reason: r.reason, ...(r.approvals ? { approvals: r.approvals } : {}), view: {} };
  }
  if (d.status.name !== 'RUNNING') {
    const outcome = d.status.name === 'CANCELLED' || d.status.name === 'TERMINATED' ? 'aborted' : 'failed';
    return { incident: id, step: 'done', evidence: [], escalations: 0, outcome, reason: `the workflow is ${d.status.name.toLowerCase().replace('_', ' ')}`, view: {} };
  }
  const s = await handle.query(statusQuery);
  const retrying = retriesOf(d, Date.now());
  return retrying ? { ...s, retrying } : s;
}

/** The digest of the plan an approval would act on, as the incident shows it (approval gate only). */
export const awaitedPlanDigest = (s: RemediationStatus): string | undefined => (s.hold === 'approval' ? s.view.plan?.digest : undefined);
