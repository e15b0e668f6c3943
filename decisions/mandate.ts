// The act checks the approval. An activity that changes something (the unlock, the CI re-run)
// is handed the decisions the workflow accepted, with serve's proofs, and judges them itself
// against the operator's configuration as it is at that moment: the caller must be the
// incident's own workflow run, each proof must answer an approval hold of that run on exactly the
// plan it is asked to carry out, and enough distinct people the configuration lists now must have
// approved (or the configuration itself approves). Nothing the workflow recorded is trusted: not
// its policy, not its judgement, not who it says approved. Pure and table-tested.
import { checkProof } from './decision-proof';
import { planDigest } from './approval';
import { isApprover, personOf, principalOf } from './principal';
import { workflowIdFor, type Decision } from './vocabulary';
import type { ResolvedPolicy, UnlockStrategy } from './schemas';
import type { ApprovedRecord } from './runbook';

/** The workflow type whose runs may act. */
export const REMEDIATION_WORKFLOW_TYPE = 'remediateStuckRelease';

/** What an acting activity is handed besides its own input: the plan approved, and by whom. */
export interface Mandate {
  /** The records approved, as the plan's digest was computed over them, and the strategy. */
  approved: ApprovedRecord[];
  strategy: UnlockStrategy;
  /** The approvals the workflow accepted for this plan, with serve's proofs; none under auto-approval. */
  decisions: Decision[];
}

/** Who calls: the activity's own view of its workflow (Context.current().info). */
export interface Caller {
  workflowType: string;
  workflowId: string;
  runId: string;
}

export interface MandateAsk {
  caller: Caller;
  /** The release the activity acts on. */
  target: { cluster: string; namespace: string; release: string };
  mandate: Mandate | undefined;
  /** This cluster's policy from the configuration read now; undefined: the cluster is not configured. */
  policy: Pick<ResolvedPolicy, 'approvers' | 'approvals' | 'allowUnverifiedDecisions' | 'autoApprove' | 'decisionKeys' | 'strategy' | 'people'> | undefined;
}

export type MandateJudged = { ok: true; by: string } | { ok: false; why: string };

/** Whether the act may go ahead, and on whose approval (in words), or exactly what is missing. */
export function judgeMandate({ caller, target, mandate, policy }: MandateAsk): MandateJudged {
  const refuse = (why: string): MandateJudged => ({ ok: false, why });
  if (!policy) return refuse(`cluster ${JSON.stringify(target.cluster)} is not in this worker's configuration`);
  if (caller.workflowType !== REMEDIATION_WORKFLOW_TYPE) return refuse(`called by a ${caller.workflowType} workflow; only ${REMEDIATION_WORKFLOW_TYPE} acts`);
  const id = workflowIdFor(target.cluster, target.namespace, target.release);
  if (caller.workflowId !== id) return refuse(`called by workflow ${caller.workflowId}, not by ${id}, the incident of this release`);
  if (!mandate || !Array.isArray(mandate.approved) || !Array.isArray(mandate.decisions)) return refuse('no approval was handed to the act');
  if (mandate.strategy !== policy.strategy) return refuse(`the strategy ${mandate.strategy} is not the configured ${policy.strategy}`);
  if (mandate.approved.length === 0) return refuse('the approved plan names no record');
  if (policy.autoApprove) return { ok: true, by: `the operator's policy (auto-approve, configured by ${policy.autoApprove.configuredBy})` };

  const digest = planDigest(mandate.approved, mandate.strategy);
  const people: { person: string; subject?: string; by: string }[] = [];
  const refused: string[] = [];
  for (const d of mandate.decisions.slice(0, 16)) {
    const who = approverOf(caller, d, digest, policy);
    if ('why' in who) refused.push(who.why);
    else if (!people.some((p) => p.person === who.person || (who.subject !== undefined && p.subject === who.subject))) people.push(who);
  }
  if (people.length >= policy.approvals) return { ok: true, by: people.map((p) => p.by).join(' and ') };
  const have = people.length === 0 ? 'no valid approval' : `${people.length} (${people.map((p) => p.by).join(', ')})`;
  return refuse(`plan ${digest} needs ${policy.approvals} approval${policy.approvals === 1 ? '' : 's'} by distinct approvers configured now; it has ${have}${refused.length ? `: ${refused.join('; ')}` : ''}`);
}

/** One decision, judged now: the person it counts as, or why it does not count. */
function approverOf(caller: Caller, raw: unknown, digest: string, policy: NonNullable<MandateAsk['policy']>): { person: string; subject?: string; by: string } | { why: string } {
  const d = (raw ?? {}) as Partial<Decision>;
  const by = typeof d.by === 'string' ? d.by.slice(0, 256) : '?';
  if (d.action !== 'approve') return { why: `${by}: not an approval` };
  if (typeof d.reason !== 'string' || d.plan !== digest) return { why: `${by} approved another plan (${String(d.plan).slice(0, 64)})` };
  let principal: string;
  let groups: readonly string[] = [];
  let subject: string | undefined;
  if (d.proof !== undefined) {
    const c = checkProof(caller.workflowId, { action: d.action, by, reason: d.reason, plan: d.plan }, d.proof, policy.decisionKeys, { run: caller.runId, hold: 'approval' });
    if (!c.ok) return { why: `${by}: ${c.why}` };
    ({ principal, groups, subject } = c);
  } else if (policy.allowUnverifiedDecisions) {
    principal = principalOf('temporal', by);
  } else {
    return { why: `${by}: no proof of identity, and unverified decisions are not allowed` };
  }
  if (!isApprover(principal, groups, policy.approvers, policy.people)) return { why: `${by} is not an approver now` };
  return { person: personOf(principal, policy.people), ...(subject !== undefined ? { subject } : {}), by };
}
