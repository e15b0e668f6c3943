// The remediation workflow's vocabulary and its decisions, pure so that the workflow, the client
// and the tests share them: input and policy, validation, and each step's "what next".
import type { DecisionPath, DecisionProof } from './decision-proof';
import type { StorageDriver } from './helm';
import type { RepeatLimit } from './repeat-limit';

// Input validation and the policy's defaults live with the input's schema.
export { DEFAULT_POLICY, checkPolicy, parseRemediationInput, resolvePolicy, validateRemediationInput, watchProblems } from './remediation-input';

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

/** One GitLab project on the ops instance whose jobs deploy to this cluster. */
export interface CiWatch {
  project: string | number;
  /** The GitLab environment the deploy jobs target (e.g. gprd-us-east1-b). */
  environment: string;
  /** Which running/pending jobs count (regex on "<stage>:<name>"); unset: all of them. */
  jobPattern?: string;
}

export type UnlockStrategy = 'delete' | 'mark-failed';

/** The operator's policy (configuration only, never the workflow input): defaults, or one cluster's. */
export interface Policy {
  /**
   * Who may approve or reject: user names (`alice`) or groups (`group:sre`). A group matches only
   * the groups of a decision whose identity serve verified (a signed proof).
   */
  approvers: string[];
  /** How many distinct approvers must approve the same plan (2: the two-person rule). */
  approvals: number;
  /** Accept decisions nobody verified (a raw Temporal update with a free-text `by`). Off by default. */
  allowUnverifiedDecisions: boolean;
  /**
   * Approve without a human. Off unless an operator configures it explicitly, naming themself
   * and why; the approval is then recorded as the policy's, never as a person's.
   */
  autoApprove?: { configuredBy: string; reason: string };
  /** Escalate when a human decision has been awaited this long, and again each time after. */
  escalateAfter: string | number;
  /** While CI is busy: look again this often, this many times, then ask a human. */
  ciRecheckInterval: string | number;
  ciMaxChecks: number;
  /** A pending revision younger than this may be a live upgrade: wait until it is this old. */
  minPendingAge: string | number;
  /** Allowed updated/available gap under an HPA, as a fraction of spec.replicas. */
  hpaTolerance: number;
  strategy: UnlockStrategy;
  /** Roll forward: how long to wait for the re-run job, and how often to look. */
  ciJobTimeout: string | number;
  ciPollInterval: string | number;
  /**
   * Repeat offenders: once the release was unlocked `unlocks` times within `window`, the next
   * unlock waits for a human to look at the cause first (decisions/repeat-limit.ts).
   */
  repeatLimit: { unlocks: number; window: string | number };
}

export interface Trigger {
  source: 'alertmanager' | 'cli' | 'api';
  /** Who or what started it (a user, or the alert's fingerprint). */
  by: string;
  fingerprint?: string;
  summary?: string;
  startsAt?: string;
}

/**
 * What an incident is about, and nothing else: the policy and the GitLab projects to watch are the
 * operator's (the worker's configuration, read by the loadPolicy activity), never the starter's.
 */
export interface RemediationInput {
  cluster: string;
  namespace: string;
  release: string;
  /** The revision the alert named, when it named one. */
  revision?: number;
  driver?: StorageDriver;
  trigger: Trigger;
}

/** The policy as written in the configuration: any key may be left to its default. */
export type PolicyConfig = Partial<Policy>;

/** Policy with defaults filled in, durations in milliseconds, and the keys serve signs decisions with. */
export interface ResolvedPolicy extends Omit<Policy, 'escalateAfter' | 'ciRecheckInterval' | 'minPendingAge' | 'ciJobTimeout' | 'ciPollInterval' | 'repeatLimit'> {
  /** Absent in histories from before the limit. */
  repeatLimit?: RepeatLimit;
  escalateAfterMs: number;
  ciRecheckIntervalMs: number;
  minPendingAgeMs: number;
  ciJobTimeoutMs: number;
  ciPollIntervalMs: number;
  /** Base64url Ed25519 public keys whose signatures on decisions are trusted. */
  decisionKeys: string[];
  /** The operator's map of people to their principals (decisions/principal.ts); absent in older histories. */
  people?: Record<string, string[]>;
}

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

/** What the workflow is waiting for a human to decide, if anything. */
export const HOLDS = ['approval', 'ci-busy', 'unhealthy', 'repeated'] as const;
export type Hold = (typeof HOLDS)[number];

/** Each hold's two answers: go on past it, or stop there. */
export const HOLD_ANSWERS: Record<Hold, { go: DecisionAction; stop: DecisionAction }> = {
  approval: { go: 'approve', stop: 'reject' },
  'ci-busy': { go: 'continue', stop: 'abort' },
  unhealthy: { go: 'continue', stop: 'abort' },
  repeated: { go: 'continue', stop: 'abort' },
};

/** The actions a hold accepts, go first. */
export const actionsFor = (hold: Hold): DecisionAction[] => [HOLD_ANSWERS[hold].go, HOLD_ANSWERS[hold].stop];
