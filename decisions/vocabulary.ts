// The remediation workflow's vocabulary, shared by the workflow, the clients and the tests: its
// outcomes and steps, the workflow id of a release, what a human can decide and what the workflow
// holds for. The input and the policy, as schemas with the types derived from them, are schemas.ts.
import type { DecisionPath, DecisionProof } from './decision-proof';
import type { Hold } from './holds';
import type { CiWatch, ResolvedPolicy } from './schemas';

export const OUTCOMES = [
  'unstuck-and-verified',
  'nothing-to-do',
  'rejected',
  'aborted',
  'needs-investigation',
  'needs-review',
  'failed',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The outcomes after which nobody needs to act: the release takes upgrades again, or never stopped. */
export const GOOD_OUTCOMES: readonly Outcome[] = ['unstuck-and-verified', 'nothing-to-do'];
export const isGoodOutcome = (o: Outcome | string | undefined): boolean => GOOD_OUTCOMES.some((g) => g === o);

/** The runbook's steps, in order, as the workflow reports where it is. */
export const STEPS = ['ci-quiet', 'health', 'identify', 'approval', 'unlock', 'verify', 'roll-forward', 'done'] as const;
export type Step = (typeof STEPS)[number];

/** What the loadPolicy activity returns: the operator's policy for one cluster, and its digest. */
export interface OperatorPolicy {
  policy: ResolvedPolicy;
  gitlab: CiWatch[];
  /** shortDigest of the canonical JSON of `policy` and `gitlab`. */
  digest: string;
}

/** One workflow per release: a second start for the same release joins the running one. */
export function workflowIdFor(cluster: string, namespace: string, release: string): string {
  return `helm-unstuck/${cluster}/${namespace}/${release}`;
}

/** The release a workflow id names (workflowIdFor's inverse), or undefined for any other id. */
export function releaseOfWorkflowId(id: string): { cluster: string; namespace: string; release: string } | undefined {
  const m = /^helm-unstuck\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(id);
  return m ? { cluster: m[1]!, namespace: m[2]!, release: m[3]! } : undefined;
}

/**
 * serve's page for a release (server/release-page.ts): stable, so an alert can link to it before
 * its incident starts and after it ends; it redirects to the running incident or lists them.
 */
export function releasePagePath(cluster: string, namespace: string, release: string): string {
  return `/releases/${cluster}/${namespace}/${release}`;
}

/** What a human can say, and to what. */
export type DecisionAction = 'approve' | 'reject' | 'continue' | 'abort';
export interface Decision {
  action: DecisionAction;
  by: string;
  reason: string;
  /** The plan digest the person saw (required at the approval gate). */
  plan?: string;
  /** serve's signature vouching for who decided; absent on a raw Temporal update or signal. */
  proof?: DecisionProof;
}

/** How the identity behind an accepted decision was established. */
export type Verification = 'sso' | 'token' | 'unverified-but-allowed' | 'operator-policy';

/** An accepted decision as recorded in status, result and report (the proof's signature left out). */
export interface RecordedDecision {
  action: DecisionAction;
  by: string;
  reason: string;
  plan?: string;
  verifiedBy: Verification;
  via: DecisionPath | 'policy';
  groups: string[];
  /** The canonical name it was verified under (`token:alice`, `sso:asmith`); absent in older histories. */
  principal?: string;
  /** The person that name belongs to (decisions/principal.ts): what the two-person rule counts. */
  person?: string;
  /** SSO: the account (`issuer#sub`), one person whatever name it shows. */
  subject?: string;
  at: string;
}

export { HOLDS, type Hold } from './holds';

/** Each hold's two answers: go on past it, or stop there. */
export const HOLD_ANSWERS: Record<Hold, { go: DecisionAction; stop: DecisionAction }> = {
  approval: { go: 'approve', stop: 'reject' },
  'ci-busy': { go: 'continue', stop: 'abort' },
  unhealthy: { go: 'continue', stop: 'abort' },
  repeated: { go: 'continue', stop: 'abort' },
};

/** The actions a hold accepts, go first. */
export const actionsFor = (hold: Hold): DecisionAction[] => [HOLD_ANSWERS[hold].go, HOLD_ANSWERS[hold].stop];
