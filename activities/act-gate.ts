// The gate at the act: the activities that change something (unlockRelease, retryCiJob) check,
// in the worker, at the moment they act, that the incident's own workflow run calls them with
// approvals that hold against the operator's configuration as it is now (decisions/mandate.ts).
// Whoever can schedule an activity on our task queue (a workflow of their own, a forged history)
// gets a typed refusal and changes nothing. A change to the configuration (an approver removed, a
// key rotated) reaches incidents already waiting, because it is read here, not from history.
import { Context } from '@temporalio/activity';
import { judgeMandate, type Caller, type Mandate } from '../decisions/mandate';
import { namespaceAllowed, namespaceRefusal } from '../decisions/namespaces';
import { own } from '../decisions/validation';
import { ApprovalRefusedError } from './failures';
import { policyOfCluster, type OperatorConfig } from './policy';

/** The configuration as it is now: a fixed one (tests), or one read again when its file changes. */
export type OperatorSource = OperatorConfig | (() => OperatorConfig);

export const operatorNow = (source: OperatorSource | undefined): OperatorConfig | undefined => (typeof source === 'function' ? source() : source);

/** The calling workflow run, as Temporal tells the activity; none outside an activity. */
function caller(): Caller | undefined {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return undefined;
  }
  const { workflowType, workflowExecution } = ctx.info;
  if (!workflowExecution) return undefined; // a standalone activity: no workflow asked for it
  return { workflowType: workflowType ?? '', workflowId: workflowExecution.workflowId, runId: workflowExecution.runId };
}

export interface Target {
  cluster: string;
  namespace: string;
  release: string;
}

/**
 * Refuse (ApprovalRefusedError) unless the act is mandated now; return on whose approval, in words.
 * `what` names the act in the refusal.
 */
export function checkMandate(what: string, source: OperatorSource | undefined, target: Target, mandate: Mandate | undefined): { by: string; config: OperatorConfig } {
  const who = caller();
  if (!who) throw new ApprovalRefusedError(`${what} refused: it acts only as an activity of the incident's own workflow`);
  const config = operatorNow(source);
  if (!config) throw new ApprovalRefusedError(`${what} refused: this worker has no configuration to check the approval against (HELM_UNSTUCK_CONFIG)`);
  const cluster = own(config.clusters, String(target?.cluster));
  if (cluster && !namespaceAllowed(cluster, String(target.namespace))) throw new ApprovalRefusedError(`${what} refused: ${namespaceRefusal(target.cluster, String(target.namespace))}; nothing was changed`);
  const policy = cluster && policyOfCluster(config, cluster);
  const judged = judgeMandate({ caller: who, target, mandate, policy });
  if (!judged.ok) throw new ApprovalRefusedError(`${what} refused: ${judged.why}; nothing was changed`);
  return { by: judged.by, config };
}
