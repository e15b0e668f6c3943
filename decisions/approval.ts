// The approval gate's judgements: which plan a decision is about (its digest), whether a decision
// may be taken (who, verified how, on which plan, a second approver distinct from the first), and
// the words a human sees. Pure: the update's validator runs them, so a refused decision leaves no
// trace in history but the refusal its sender reads.
import { MAX_BY_CHARS, MAX_REASON_CHARS } from './decision-limits';
import { checkProof, shortDigest } from './decision-proof';
import { isApprover, personOf, principalOf } from './principal';
import { actionsFor, type Decision, type Hold, type RecordedDecision } from './vocabulary';
import type { ResolvedPolicy, UnlockStrategy } from './schemas';
import type { ApprovedRecord } from './runbook';

/**
 * A short digest of exactly what an approval unlocks: each record's uid and resourceVersion, in
 * order, and the strategy. Any write to a record, or another strategy, is another plan.
 */
export function planDigest(records: readonly Pick<ApprovedRecord, 'uid' | 'resourceVersion'>[], strategy: UnlockStrategy): string {
  return shortDigest(JSON.stringify(['helm-unstuck/plan/v1', strategy, records.map((r) => [r.uid, r.resourceVersion])]));
}

/** A plan in the words of the approval request, the status and the CLI: "back up and delete sh.helm.release.v1.web.v3 (pending-upgrade, uid …)". */
export function describePlan(strategy: UnlockStrategy, records: readonly Pick<ApprovedRecord, 'objectName' | 'status' | 'uid'>[]): string {
  const verb = strategy === 'delete' ? 'back up and delete' : 'back up and mark failed';
  return `${verb} ${records.map((r) => `${r.objectName} (${r.status}, uid ${r.uid})`).join(', ')}`;
}

/** What the workflow asks right now, as far as judging a decision goes. */
export interface Asking {
  /** The workflow run a proof must answer. */
  run: string;
  hold: Hold | undefined;
  /** The open hold's number in the run, which a proof must answer too. */
  seq: number;
  /** On the approval hold: the plan's digest and the plan in words. */
  plan?: { digest: string; words: string };
  /** Approvals already given for this plan (the two-person rule's first). */
  given: readonly Pick<RecordedDecision, 'by' | 'person' | 'subject'>[];
  /** Signatures already taken in this run: a proof is used once. */
  used?: ReadonlySet<string>;
}

export type DecisionPolicy = Pick<ResolvedPolicy, 'approvers' | 'allowUnverifiedDecisions' | 'decisionKeys'> & Partial<Pick<ResolvedPolicy, 'people'>>;

export type Judged = { ok: true; recorded: Omit<RecordedDecision, 'at'> } | { ok: false; why: string };

export { isApprover };

/** What a person may write into evidence (decisions/decision-limits.ts): a name, and a reason. */
export const DECISION_LIMITS = { by: MAX_BY_CHARS, reason: MAX_REASON_CHARS } as const;

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/** Whether two approvals are one person's: the same person, or the same SSO account under two names. */
export const samePerson = (a: Pick<RecordedDecision, 'by' | 'person' | 'subject'>, b: Pick<RecordedDecision, 'by' | 'person' | 'subject'>): boolean =>
  (a.person ?? a.by) === (b.person ?? b.by) || (a.subject !== undefined && a.subject === b.subject);

/**
 * Whether this decision may be taken now, and as what it is recorded. `incident` is the workflow
 * id the proof must be bound to, `asking.run` and `asking.seq` the run and hold it must answer;
 * `nowMs` the workflow's clock (a proof expires). `proofChecked`: the update's validator already
 * verified the proof before the update entered history, so its handler (which replay runs, the
 * validator not) reads the proof's claims without verifying them again: what was accepted stays
 * accepted, whatever replays it.
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
  if (d.by.length > DECISION_LIMITS.by) return refuse(`a decision's by is at most ${DECISION_LIMITS.by} characters`);
  if (d.reason.length > DECISION_LIMITS.reason) return refuse(`a decision's reason is at most ${DECISION_LIMITS.reason} characters`);
  if (d.plan !== undefined && (typeof d.plan !== 'string' || d.plan.length > 64)) return refuse('a decision names its plan by its digest (a string)');
  const { by, reason, plan } = d;

  const identity = whoDecided(incident, { action, by, reason, ...(plan !== undefined ? { plan } : {}) }, d.proof, asking, policy, nowMs, o.proofChecked === true);
  if ('why' in identity) return refuse(identity.why);
  if (!isApprover(identity.principal, identity.groups, policy.approvers, policy.people)) return refuse(`${by} is not an allowed approver`);

  if (hold === 'approval' && asking.plan) {
    const now = asking.plan;
    if (plan === undefined) return refuse(`a decision on the approval must name the plan it was made on (its digest); now ${now.digest}: ${now.words}`);
    if (plan !== now.digest) return refuse(`the plan changed since you looked: now ${now.digest}: ${now.words}`);
    const earlier = asking.given.find((g) => samePerson(g, { by, ...identity }));
    if (action === 'approve' && earlier) {
      const as = earlier.by === by ? '' : ` (as ${earlier.by}: one person, one approval)`;
      return refuse(`${by} has already approved this plan${as}; another approver must give the next approval`);
    }
  }
  return { ok: true, recorded: { action, by, reason, ...(plan !== undefined ? { plan } : {}), ...identity } };
}

type Identity = Pick<RecordedDecision, 'verifiedBy' | 'via' | 'groups'> & { principal: string; person: string; subject?: string };

/** Who made a decision: verified by serve's proof for this run and hold, or unverified where the operator allows it. */
function whoDecided(incident: string, d: Omit<Decision, 'proof'>, proof: Decision['proof'], asking: Asking, policy: DecisionPolicy, nowMs: number, proofChecked: boolean): Identity | { why: string } {
  const people = policy.people ?? {};
  if (proof !== undefined && proofChecked) {
    // Replay: the validator checked it; a proof from before principals names the person by `by`.
    const { verifiedBy, via, groups = [] } = proof;
    const principal = typeof proof.principal === 'string' ? proof.principal : principalOf(verifiedBy, d.by);
    return { verifiedBy, via, groups, principal, person: personOf(principal, people), ...(proof.subject !== undefined ? { subject: proof.subject } : {}) };
  }
  if (proof !== undefined) {
    const c = checkProof(incident, d, proof, policy.decisionKeys, { run: asking.run, hold: asking.hold!, seq: asking.seq, nowMs });
    if (!c.ok) return { why: `${d.by}'s identity not verified: ${c.why}` };
    if (asking.used?.has(String(proof.signature))) return { why: `${d.by}'s proof was already used once in this incident: each decision is signed anew` };
    return { verifiedBy: c.verifiedBy, via: c.via, groups: c.groups, principal: c.principal, person: personOf(c.principal, people), ...(c.subject !== undefined ? { subject: c.subject } : {}) };
  }
  if (policy.allowUnverifiedDecisions) {
    const principal = principalOf('temporal', d.by);
    return { verifiedBy: 'unverified-but-allowed', via: 'temporal', groups: [], principal, person: personOf(principal, people) };
  }
  return {
    why: `${d.by}'s identity not verified: the decision carries no proof of who made it, and the operator's policy accepts only decisions serve signed (allowUnverifiedDecisions is off)`,
  };
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
