// The approval gate's judgements: which plan a decision is about (its digest), whether a decision
// may be taken (who, verified how, on which plan, a second approver distinct from the first), and
// the words a human sees. Pure: the update's validator runs them, so a refused decision leaves no
// trace in history but the refusal its sender reads.
import { checkProof, shortDigest } from './decision-proof';
import { actionsFor, type Decision, type Hold, type RecordedDecision, type ResolvedPolicy, type UnlockStrategy } from './remediation';
import type { ApprovedRecord } from './runbook';

/**
 * A short digest of exactly what an approval unlocks: each record's uid and resourceVersion, in
 * order, and the strategy. Any write to a record, or another strategy, is another plan.
 */
export function planDigest(records: readonly Pick<ApprovedRecord, 'uid' | 'resourceVersion'>[], strategy: UnlockStrategy): string {
  return shortDigest(JSON.stringify(['helm-unstuck/plan/v1', strategy, records.map((r) => [r.uid, r.resourceVersion])]));
}

/** What the workflow asks right now, as far as judging a decision goes. */
export interface Asking {
  hold: Hold | undefined;
  /** On the approval hold: the plan's digest and the plan in words. */
  plan?: { digest: string; words: string };
  /** Approvals already given for this plan (the two-person rule's first). */
  given: readonly Pick<RecordedDecision, 'by'>[];
}

export type DecisionPolicy = Pick<ResolvedPolicy, 'approvers' | 'allowUnverifiedDecisions' | 'decisionKeys'>;

export type Judged = { ok: true; recorded: Omit<RecordedDecision, 'at'> } | { ok: false; why: string };

const GROUP = 'group:';

/** Whether `by` (with the groups a verified proof states) is among the approvers. */
export function isApprover(by: string, groups: readonly string[], approvers: readonly string[]): boolean {
  return approvers.some((a) => (a.startsWith(GROUP) ? groups.includes(a.slice(GROUP.length)) : a === by));
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/**
 * Whether this decision may be taken now, and as what it is recorded. `incident` is the workflow
 * id the proof must be bound to; `nowMs` the workflow's clock (a proof expires). `proofChecked`:
 * the update's validator already verified the proof before the update entered history, so its
 * handler (which replay runs, the validator not) reads the proof's claims without verifying the
 * signature again: what was accepted stays accepted, whatever replays it.
 */
export function judgeDecision(incident: string, raw: unknown, asking: Asking, policy: DecisionPolicy, nowMs: number, o: { proofChecked?: boolean } = {}): Judged {
  const refuse = (why: string): Judged => ({ ok: false, why });
  if (!raw || typeof raw !== 'object') return refuse('a decision needs action, by and reason');
  const d = raw as Partial<Decision>;
  const hold = asking.hold;
  if (!hold) return refuse('the workflow is not waiting for a decision');
  if (!actionsFor(hold).some((a) => a === d.action)) return refuse(`the workflow waits for ${hold}: ${actionsFor(hold).join(' or ')}, not ${String(d.action)}`);
  const action = d.action!;
  if (!isText(d.by)) return refuse('a decision must say who decides (by)');
  if (!isText(d.reason)) return refuse('a decision must say why (reason)');
  if (d.plan !== undefined && typeof d.plan !== 'string') return refuse('a decision names its plan by its digest (a string)');
  const { by, reason, plan } = d;

  let identity: Pick<RecordedDecision, 'verifiedBy' | 'via' | 'groups'>;
  if (d.proof !== undefined && o.proofChecked) {
    const { verifiedBy, via, groups = [] } = d.proof;
    identity = { verifiedBy, via, groups };
  } else if (d.proof !== undefined) {
    const proof = checkProof(incident, { action, by, reason, ...(plan !== undefined ? { plan } : {}) }, d.proof, policy.decisionKeys, nowMs);
    if (!proof.ok) return refuse(`${by}'s identity not verified: ${proof.why}`);
    identity = { verifiedBy: proof.verifiedBy, via: proof.via, groups: proof.groups };
  } else if (policy.allowUnverifiedDecisions) {
    identity = { verifiedBy: 'unverified-but-allowed', via: 'temporal', groups: [] };
  } else {
    return refuse(`${by}'s identity not verified: the decision carries no proof of who made it, and the operator's policy accepts only decisions serve signed (allowUnverifiedDecisions is off)`);
  }
  if (!isApprover(by, identity.groups, policy.approvers)) return refuse(`${by} is not an allowed approver`);

  if (hold === 'approval' && asking.plan) {
    const now = asking.plan;
    if (plan === undefined) return refuse(`a decision on the approval must name the plan it was made on (its digest); now ${now.digest}: ${now.words}`);
    if (plan !== now.digest) return refuse(`the plan changed since you looked: now ${now.digest}: ${now.words}`);
    if (action === 'approve' && asking.given.some((g) => g.by === by)) {
      return refuse(`${by} has already approved this plan; another approver must give the next approval`);
    }
  }
  return { ok: true, recorded: { action, by, reason, ...(plan !== undefined ? { plan } : {}), ...identity } };
}

/** "alice (sso)", or "bob (unverified, allowed by the operator's policy)". */
export function describeDecider(d: Pick<RecordedDecision, 'by' | 'verifiedBy' | 'groups'>): string {
  const how = d.verifiedBy === 'unverified-but-allowed' ? "unverified, allowed by the operator's policy" : d.verifiedBy === 'operator-policy' ? "the operator's policy" : d.verifiedBy;
  return `${d.by} (${how}${d.groups.length ? `; groups ${d.groups.join(', ')}` : ''})`;
}

/** "1 of 2 approvals: alice (sso)". */
export function approvalProgress(given: readonly Pick<RecordedDecision, 'by' | 'verifiedBy' | 'groups'>[], needed: number): string {
  return `${given.length} of ${needed} approval${needed === 1 ? '' : 's'}${given.length ? `: ${given.map((g) => `${g.by} (${g.verifiedBy})`).join(', ')}` : ''}`;
}

/** Who is asked: "approval by alice or bob", "2 approvals by distinct people among alice, bob or group:sre". */
export function approvalAsk(policy: Pick<ResolvedPolicy, 'approvers' | 'approvals'>): string {
  const names = policy.approvers.length > 1 ? `${policy.approvers.slice(0, -1).join(', ')} or ${policy.approvers.at(-1)}` : (policy.approvers[0] ?? 'nobody');
  return policy.approvals === 1 ? `approval by ${names}` : `${policy.approvals} approvals by distinct people among ${names}`;
}
