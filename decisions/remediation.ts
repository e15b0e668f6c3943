// The remediation workflow's vocabulary and its decisions, pure so that the workflow, the client
// and the tests share them: input and policy, validation, and each step's "what next".
import type { StorageDriver } from './helm';

// Input validation and the policy's defaults live with the input's schema.
export { DEFAULT_POLICY, resolvePolicy, validateRemediationInput, watchProblems } from './remediation-input';

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

export interface Policy {
  /** Who may approve or reject (the identity the approval page or CLI vouches for). */
  approvers: string[];
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
}

export interface Trigger {
  source: 'alertmanager' | 'cli' | 'api';
  /** Who or what started it (a user, or the alert's fingerprint). */
  by: string;
  fingerprint?: string;
  summary?: string;
  startsAt?: string;
}

export interface RemediationInput {
  cluster: string;
  namespace: string;
  release: string;
  driver?: StorageDriver;
  gitlab: CiWatch[];
  policy: Partial<Policy> & { approvers: string[] };
  trigger: Trigger;
}

/** Policy with durations in milliseconds, after validation. */
export interface ResolvedPolicy extends Omit<Policy, 'escalateAfter' | 'ciRecheckInterval' | 'minPendingAge' | 'ciJobTimeout' | 'ciPollInterval'> {
  escalateAfterMs: number;
  ciRecheckIntervalMs: number;
  minPendingAgeMs: number;
  ciJobTimeoutMs: number;
  ciPollIntervalMs: number;
}

/** One workflow per release: a second start for the same release joins the running one. */
export function workflowIdFor(cluster: string, namespace: string, release: string): string {
  return `helm-unstuck/${cluster}/${namespace}/${release}`;
}

/** What a human can say, and to what. */
export type DecisionAction = 'approve' | 'reject' | 'continue' | 'abort';
export interface Decision {
  action: DecisionAction;
  by: string;
  reason: string;
}
/** What the workflow is waiting for a human to decide, if anything. */
export type Hold = 'approval' | 'ci-busy' | 'unhealthy';

/** Each hold's two answers: go on past it, or stop there. */
export const HOLD_ANSWERS: Record<Hold, { go: DecisionAction; stop: DecisionAction }> = {
  approval: { go: 'approve', stop: 'reject' },
  'ci-busy': { go: 'continue', stop: 'abort' },
  unhealthy: { go: 'continue', stop: 'abort' },
};

/** The actions a hold accepts, go first. */
export const actionsFor = (hold: Hold): DecisionAction[] => [HOLD_ANSWERS[hold].go, HOLD_ANSWERS[hold].stop];

/** Why a decision cannot be taken now, or undefined if it can. */
export function checkDecision(d: Decision, hold: Hold | undefined, approvers: readonly string[]): string | undefined {
  if (!d || typeof d !== 'object') return 'a decision needs action, by and reason';
  if (!hold) return 'the workflow is not waiting for a decision';
  if (!actionsFor(hold).includes(d.action)) return `the workflow waits for ${hold}: ${actionsFor(hold).join(' or ')}, not ${String(d.action)}`;
  if (!d.by || typeof d.by !== 'string') return 'a decision must say who decides (by)';
  if (!approvers.includes(d.by)) return `${d.by} is not an allowed approver`;
  if (!d.reason || typeof d.reason !== 'string' || !d.reason.trim()) return 'a decision must say why (reason)';
  return undefined;
}
