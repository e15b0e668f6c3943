// Each runbook step's "what next", in runbook order: the workflow observes (an activity), asks
// one of these, and acts on the answer. Pure, so that each branch is a row in
// test/unit/runbook.test.ts rather than a path through a running workflow.
import { formatDuration } from './duration';
import type { RevisionRecord, StorageDriver } from './helm';
import type { DiffMode, DiffVerdict } from './dry-run-diff';
import type { ClusterChange } from './live-objects';
import type { ReleaseState } from './release-state';
import type { VerifyExpectation } from './verification';
import { HOLD_ANSWERS, type Decision, type Hold, type Outcome } from './vocabulary';
import type { ResolvedPolicy } from './schemas';

/** How an incident ends: the outcome, and why in one sentence. */
export interface Ending {
  outcome: Outcome;
  reason: string;
}

/** Step 1: CI was looked at `checks` times. Go on, look again after a pause, or ask a human. */
export function decideCiQuiet(quiet: boolean, checks: number, policy: Pick<ResolvedPolicy, 'ciMaxChecks'>): 'go-on' | 'look-again' | 'ask-human' {
  if (quiet) return 'go-on';
  return checks < policy.ciMaxChecks ? 'look-again' : 'ask-human';
}

/** Steps 1 and 2, and the approval before step 4: what a human's answer on a hold means. `held` says what held us. */
export function decideAnswer(hold: Hold, d: Decision, held: string): Ending | undefined {
  if (d.action !== HOLD_ANSWERS[hold].stop) return undefined;
  switch (hold) {
    case 'ci-busy':
      return { outcome: 'aborted', reason: `${d.by} aborted while CI was busy: ${d.reason}` };
    case 'unhealthy':
      return { outcome: 'needs-investigation', reason: `${held}; ${d.by} stopped: ${d.reason}` };
    case 'approval':
      return { outcome: 'rejected', reason: `${d.by} rejected: ${d.reason}` };
    case 'repeated':
      return { outcome: 'needs-investigation', reason: `${held}; ${d.by} stopped to look at the cause: ${d.reason}` };
  }
}

/** Step 3: what to do about the release's state. */
export type IdentifyAction =
  | { action: 'nothing-to-do'; reason: string }
  | { action: 'wait-young'; reason: string; waitMs: number }
  | { action: 'investigate'; reason: string }
  | { action: 'ask-approval'; reason: string; expect: VerifyExpectation };

export function decideIdentify(state: ReleaseState, policy: Pick<ResolvedPolicy, 'minPendingAgeMs'>): IdentifyAction {
  if (state.kind !== 'Locked') return { action: 'nothing-to-do', reason: state.reason };
  if (state.pendingForMs !== undefined && state.pendingForMs < policy.minPendingAgeMs) {
    return {
      action: 'wait-young',
      waitMs: policy.minPendingAgeMs - state.pendingForMs,
      reason: `revision ${state.pending[0]?.revision} is only ${formatDuration(state.pendingForMs)} old, younger than ${formatDuration(policy.minPendingAgeMs)}: it may be a live upgrade, waiting`,
    };
  }
  if (state.firstInstall) return { action: 'ask-approval', reason: state.reason, expect: { absent: true } };
  const below = state.newest && state.lastDeployed ? state.lastDeployed : undefined;
  if (!below) {
    return { action: 'investigate', reason: `${state.reason} Removing the lock would not leave a deployed revision on top: a human should look.` };
  }
  return { action: 'ask-approval', reason: state.reason, expect: { deployedRevision: below.revision } };
}

/**
 * A pending record exactly as a human approves it: what unlock acts on, and nothing else. The
 * workflow shows it, the unlock activity takes it, the approval page lists it.
 */
export type ApprovedRecord = Pick<RevisionRecord, 'objectName' | 'revision' | 'status' | 'uid' | 'resourceVersion'>;

export function approvedRecords(state: ReleaseState): ApprovedRecord[] {
  return state.pending.map((r) => ({
    objectName: r.objectName,
    revision: r.revision,
    status: r.status,
    uid: r.uid,
    resourceVersion: r.resourceVersion,
  }));
}

/** Is the lock exactly what was approved? Undefined if so; otherwise what differs. */
export function differsFromApproved(approved: readonly ApprovedRecord[], now: ReleaseState): string | undefined {
  if (now.kind !== 'Locked') return `the release is no longer stuck (${now.reason})`;
  const key = (r: ApprovedRecord) => `${r.revision}/${r.status}/${r.uid}/${r.resourceVersion}`;
  const a = approved.map(key).join(', ');
  const c = approvedRecords(now).map(key).join(', ');
  return a === c ? undefined : `the pending records changed since approval: approved [${a}], now [${c}]`;
}

/** What a human is asked to approve: these records, and what to verify once they are gone. */
export interface Plan {
  state: ReleaseState;
  approved: ApprovedRecord[];
  expect: VerifyExpectation;
}

/**
 * The approval before step 4, while waiting: the alert resolved, and the release was read again. It is
 * no longer stuck (end), its pending records changed (ask again for the new ones), or it is the
 * same (keep waiting). A pending record younger than the policy's minimum age may be a live
 * upgrade: it is never put before an approver; the incident ends, and if that record does stay
 * stuck, its own alert starts a new one.
 */
export type LookAgain = { look: 'not-stuck'; ending: Ending } | { look: 'changed'; plan: Plan } | { look: 'same' };

export function decideLookAgain(approved: readonly ApprovedRecord[], now: ReleaseState, policy: Pick<ResolvedPolicy, 'minPendingAgeMs'>): LookAgain {
  if (now.kind === 'Locked' && !differsFromApproved(approved, now)) return { look: 'same' };
  const next = decideIdentify(now, policy);
  if (next.action === 'wait-young') {
    const age = now.pendingForMs === undefined ? 'of unknown age' : `only ${formatDuration(now.pendingForMs)} old`;
    return {
      look: 'not-stuck',
      ending: {
        outcome: 'nothing-to-do',
        reason: `the alert resolved and the records awaiting approval are gone; revision ${now.pending[0]?.revision} is pending but ${age}, younger than ${formatDuration(policy.minPendingAgeMs)}: it may be a live upgrade, so it is not put up for approval and nothing was done (if it stays stuck, its own alert starts a new incident)`,
      },
    };
  }
  if (next.action !== 'ask-approval') {
    return { look: 'not-stuck', ending: { outcome: 'nothing-to-do', reason: `the alert resolved and the release is no longer stuck: ${now.reason}` } };
  }
  return { look: 'changed', plan: { state: now, approved: approvedRecords(now), expect: next.expect } };
}

/** Step 4, before unlocking: are CI and the Deployments still as they were judged before approval? */
export type Recheck = { check: 'ci'; quiet: boolean; summary: string; overridden: boolean } | { check: 'health'; healthy: boolean; summary: string; overridden: boolean };

/** Step 4, the recheck before unlocking: undefined when still fine (or a human had already chosen to go on despite it). */
export function decideRecheck(r: Recheck): Ending | undefined {
  if (r.check === 'ci') {
    return r.quiet || r.overridden ? undefined : { outcome: 'needs-investigation', reason: `CI became busy after approval: ${r.summary}` };
  }
  return r.healthy || r.overridden ? undefined : { outcome: 'needs-investigation', reason: `Deployments became unhealthy after approval: ${r.summary}` };
}

/** Step 4: is the lock, read again, exactly what was approved? Only then unlock. */
export type UnlockDecision = { action: 'unlock'; driver: StorageDriver; seen: string } | { action: 'stop'; ending: Ending; seen: string };

export function decideUnlock(approved: readonly ApprovedRecord[], now: ReleaseState, driver: StorageDriver | undefined): UnlockDecision {
  const changed = differsFromApproved(approved, now);
  if (changed) {
    const ending: Ending =
      now.kind === 'Locked'
        ? { outcome: 'needs-investigation', reason: `the release changed after approval; nothing was deleted: ${changed}` }
        : { outcome: 'nothing-to-do', reason: `the release is no longer stuck; nothing was deleted: ${now.reason}` };
    return { action: 'stop', ending, seen: changed };
  }
  const seen = `still exactly what was approved: ${now.reason}`;
  // A lock is records, and records are found in a driver: this guards the type, not a real case.
  if (!driver) return { action: 'stop', ending: { outcome: 'needs-investigation', reason: `Helm's storage driver is unknown; nothing was deleted: ${now.reason}` }, seen };
  return { action: 'unlock', driver, seen };
}

/** Step 5: Helm must show the release deployed again, or a human looks. */
export function decideVerified(v: { verified: boolean; summary: string }): Ending | undefined {
  return v.verified ? undefined : { outcome: 'needs-investigation', reason: `unlocked, but ${v.summary}` };
}

/** GitLab job statuses after which a job will not change any more. */
export const FINISHED_JOB_STATUSES: readonly string[] = ['success', 'failed', 'canceled', 'skipped'];

/** Step 6, while the re-run job runs: read its dry run, poll again, or give up waiting. */
export function decideRerunWait(jobStatus: string, nowMs: number, deadlineMs: number): 'read-diff' | 'poll' | 'give-up' {
  if (FINISHED_JOB_STATUSES.includes(jobStatus)) return 'read-diff';
  return nowMs >= deadlineMs ? 'give-up' : 'poll';
}

/** What step 6 saw of the re-run: no job to re-run, a job that did not finish in time, or its end and dry run. */
export type Rerun =
  | { job: 'none' }
  | { job: 'timed-out'; id: number; timeoutMs: number }
  | { job: 'finished'; status: string; verdict: DiffVerdict; reason: string; mode?: DiffMode; cluster?: ClusterChange };

/** Step 6: the outcome. `verified` is step 5's summary, which leads the reason of a finished roll-forward. */
export function decideRollForward(verified: string, rerun: Rerun): Ending {
  switch (rerun.job) {
    case 'none':
      return { outcome: 'unstuck-and-verified', reason: `${verified} No failed deploy job to re-run.` };
    case 'timed-out':
      return { outcome: 'needs-investigation', reason: `the re-run job ${rerun.id} did not finish within ${formatDuration(rerun.timeoutMs)}` };
    case 'finished': {
      const end = rerun.cluster ? judgeByCluster(rerun, rerun.cluster) : judgeDryRun(rerun.status, rerun.verdict, rerun.reason, rerun.mode);
      return { outcome: end.outcome, reason: `${verified} ${end.reason}` };
    }
  }
}

/**
 * The cluster decides; the log is quoted. A job that failed without deploying is looked at by a
 * human (needs-review when its diff listed changes, as before); one that deployed more than the
 * interrupted upgrade intended, or undid a change someone made outside both revisions, is
 * reviewed, object by object.
 */
function judgeByCluster(r: { status: string; verdict: DiffVerdict; reason: string; mode?: DiffMode }, cluster: ClusterChange): Ending {
  const log = `the job's log: ${r.verdict}: ${r.reason}`;
  // Someone's change undone, or more than the pending revision: never "completed", whatever the log says.
  if (cluster.change === 'unexpected' || cluster.change === 'overwrote') return { outcome: 'needs-review', reason: `${cluster.summary}. (${log})` };
  if (r.status !== 'success') {
    if (r.verdict === 'changes') return { outcome: 'needs-review', reason: `the re-run job ended ${r.status} after its dry run listed changes: ${r.reason}; the cluster: ${cluster.summary}` };
    return { outcome: 'needs-investigation', reason: `the re-run job ended ${r.status}: ${r.reason}; the cluster: ${cluster.summary}` };
  }
  if (cluster.change === 'unknown') return { outcome: 'needs-review', reason: `${cluster.summary}; ${log}` };
  const disagree =
    cluster.change === 'nothing' && r.verdict === 'changes'
      ? ' The log lists changes but the cluster shows none: the cluster decides (after an unlock a two-way diff compares with a revision the cluster no longer runs).'
      : cluster.change === 'completed' && r.verdict === 'no-op'
        ? ` The log shows no change but the cluster changed: the cluster decides${r.mode === 'two-way' ? ' (a two-way diff after an unlock is no proof of no change)' : ''}.`
        : '';
  return { outcome: 'unstuck-and-verified', reason: `${cluster.summary}.${disagree} (${log})` };
}

function judgeDryRun(jobStatus: string, verdict: DiffVerdict, reason: string, mode?: DiffMode): Ending {
  if (verdict === 'changes') return { outcome: 'needs-review', reason: `the dry run would change things: ${reason}` };
  if (jobStatus !== 'success') return { outcome: 'needs-investigation', reason: `the re-run job ended ${jobStatus}: ${reason}` };
  if (verdict === 'no-op' && mode === 'two-way') {
    return { outcome: 'needs-review', reason: `the re-run job's two-way dry run shows no change, but after an unlock that is no proof of no change: ${reason}` };
  }
  if (verdict === 'no-op') return { outcome: 'unstuck-and-verified', reason: `the re-run job's dry run changes nothing: ${reason}` };
  return { outcome: 'needs-review', reason: `could not tell whether the dry run changes anything: ${reason}` };
}
