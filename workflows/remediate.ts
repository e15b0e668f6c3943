// remediateStuckRelease: the runbook, executed durably. One workflow per release. The numbers
// are the runbook's (docs/runbook-helm-upgrade-stuck.txt, decisions/runbook.ts); the approval is
// the gate before step 4, not a step of its own.
//
//   1 ci-quiet   checkCiQuiet          no deploy job or deployment running; else wait, then ask a human
//   2 health     checkDeploymentHealth every Deployment healthy; else ask a human (override needs a reason)
//   3 identify   readReleaseHistory    decideIdentify: nothing to do, too young (wait), or ask approval;
//                readLiveObjects       what the interrupted upgrade already applied (evidence)
//   - approval   (signal / update)     a named approver approves or rejects; escalate, never auto-approve
//                                      unless an operator configured it explicitly
//                readReleaseHistory    when the alert resolves: unstuck (end), the same, or a new plan,
//                readLiveObjects       whose applied objects are read again before it is asked for
//   4 unlock     unlockRelease         after re-checking 1-3 against what was approved
//   5 verify     verifyRelease         Helm shows the release deployed again
//   6 roll-fwd   readLiveObjects, retryCiJob, getCiJob, readDryRunDiff, readLiveObjects → decideRollForward
//                (the cluster decides what the re-run changed; the log is quoted; objects someone changed
//                outside both revisions before the re-run are written down, and undoing them is reviewed)
//
// One function per step, below in that order. Each observes (an activity), asks its decision in
// decisions/runbook.ts, and either ends the incident or hands the next step what it needs. The
// incident's state is one object (workflows/incident.ts). Expected endings are outcomes, not
// exceptions. Every check is an activity result in history.
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { CiJob } from '../activities/gitlab';
import type { LiveObjectsInput, LiveObjectsResult } from '../activities/live-objects';
import type { VerifyResult } from '../activities/release';
import type { UnlockResult } from '../activities/unlock';
import { describeHealth } from '../decisions/deployment-health';
import { formatDuration } from '../decisions/duration';
import { intendedRevision, judgeDriftBeforeRerun, judgeRollForwardChange, type DriftBeforeRerun, type LiveObject } from '../decisions/live-objects';
import { backupName, type StorageDriver } from '../decisions/helm';
import { describePlan, planDigest } from '../decisions/approval';
import { recoveryTimes } from '../decisions/recovery-times';
import { FAILURE_TYPES, type FailureType } from '../decisions/failure-types';
import type { ApprovedRecord } from '../decisions/runbook';
import type { RecordedDecision } from '../decisions/vocabulary';
import type { CiWatch, RemediationInput } from '../decisions/schemas';
import {
  approvedRecords,
  decideAnswer,
  decideCiQuiet,
  decideIdentify,
  decideLookAgain,
  decideRecheck,
  decideRerunWait,
  decideRollForward,
  decideUnlock,
  decideVerified,
  type Plan,
} from '../decisions/runbook';
import type { Decision, Step } from '../decisions/vocabulary';
import type { RemediationResult } from './definitions';
import { DEFAULT_REPEAT_WINDOW_MS, judgeRepeats } from '../decisions/repeat-limit';
import { indexOutcome } from './search-attributes';
import {
  approvalRequest,
  answered,
  approvalsOfPlan,
  askHuman,
  begin,
  enter,
  finish,
  gaveUp,
  isEnd,
  leaveHold,
  mandateOf,
  nextOnHold,
  note,
  open,
  openHold,
  raise,
  retried,
  toldAll,
  type End,
  type Incident,
  type Opened,
} from './incident';

export type { RemediationResult, Step };

export async function remediateStuckRelease(input: RemediationInput): Promise<RemediationResult> {
  const o = open(input);
  try {
    const s = await begin(o);
    return await finish(o, isEnd(s) ? s : await runbook(s));
  } catch (err) {
    return endOnError(o, err);
  }
}

/** The runbook, top to bottom: each step ends the incident or hands the next one what it needs. */
async function runbook(s: Incident): Promise<End> {
  const stopped = (await ciQuiet(s)) ?? (await health(s));
  if (stopped) return stopped;
  const found = await identify(s);
  if (isEnd(found)) return found;
  const approved = await approval(s, found);
  if (isEnd(approved)) return approved;
  const unlocked = await unlock(s, approved);
  if (isEnd(unlocked)) return unlocked;
  const verified = await verify(s, unlocked);
  if (isEnd(verified)) return verified;
  return rollForward(s, verified);
}

/** 1. No CI job is deploying to this cluster: look a few times, then ask a human. */
async function ciQuiet(s: Incident): Promise<End | undefined> {
  enter(s, 'ci-quiet');
  let checks = 1;
  let ci = await lookAtCi(s);
  let next = decideCiQuiet(ci.quiet, checks, s.policy);
  while (next === 'look-again') {
    s.status.waitingFor = `CI to go quiet (check ${checks + 1} of ${s.policy.ciMaxChecks} in ${formatDuration(s.policy.ciRecheckIntervalMs)})`;
    await sleep(s.policy.ciRecheckIntervalMs);
    ci = await lookAtCi(s);
    next = decideCiQuiet(ci.quiet, ++checks, s.policy);
  }
  s.status.waitingFor = undefined;
  if (next === 'go-on') return undefined;
  const d = await askHuman(s, 'ci-busy', `a human to continue or abort: ${ci.summary}`);
  return decideAnswer('ci-busy', d, ci.summary) ?? override(s, 'ci', d);
}

async function lookAtCi(s: Incident) {
  const ci = await retried.checkCiQuiet(s.gitlab);
  note(s, 'check', ci.summary, ci.quiet);
  s.status.view.ci = { quiet: ci.quiet, summary: ci.summary };
  return ci;
}

/** A human chose to go on past a hold: the re-check after approval must not stop on it. */
function override(s: Incident, hold: 'ci' | 'health', d: Decision): undefined {
  s.overrides[hold] = d;
  return undefined;
}

/** 2. Every Deployment is healthy, or a human overrides (with a reason). */
async function health(s: Incident): Promise<End | undefined> {
  enter(s, 'health');
  const { cluster, namespace } = s.input;
  const seen = await retried.checkDeploymentHealth({ cluster, namespace, hpaTolerance: s.policy.hpaTolerance });
  note(s, 'check', describeHealth(seen), seen.healthy);
  s.status.view.health = { healthy: seen.healthy, summary: seen.summary, deployments: seen.deployments.map((d) => d.summary) };
  if (seen.healthy) return undefined;
  const d = await askHuman(s, 'unhealthy', `a human to override (with a reason) or stop: ${describeHealth(seen)}`);
  return decideAnswer('unhealthy', d, seen.summary) ?? override(s, 'health', d);
}

/** 3. Identify the stuck release and the records to approve; a young pending revision is waited for. */
async function identify(s: Incident): Promise<End | Plan> {
  enter(s, 'identify');
  let history = await lookAtRelease(s);
  let next = decideIdentify(history.state, s.policy);
  while (next.action === 'wait-young') {
    note(s, 'wait', next.reason);
    s.status.waitingFor = `the pending revision to be ${formatDuration(s.policy.minPendingAgeMs)} old`;
    await sleep(next.waitMs);
    s.status.waitingFor = undefined;
    history = await lookAtRelease(s);
    next = decideIdentify(history.state, s.policy);
  }
  if (next.action === 'nothing-to-do') return { outcome: 'nothing-to-do', reason: next.reason };
  if (next.action === 'investigate') return { outcome: 'needs-investigation', reason: next.reason };
  const plan: Plan = { state: history.state, approved: approvedRecords(history.state), expect: next.expect };
  showPlan(s, plan);
  await showApplied(s, plan, history.driver);
  // Incidents started before the repeat check replay without it.
  const held = patched(REPEAT_LIMIT) ? await repeatOffender(s) : undefined;
  return held ?? plan;
}

const REPEAT_LIMIT = 'repeat-limit';

/**
 * The release's earlier incidents in the policy's window, shown with the plan; past the policy's
 * limit of unlocks, a human looks at the cause before this one is asked to approve.
 */
async function repeatOffender(s: Incident): Promise<End | undefined> {
  const limit = s.policy.repeatLimit;
  const windowMs = limit?.windowMs ?? DEFAULT_REPEAT_WINDOW_MS;
  const earlier = await retried.findEarlierIncidents({ cluster: s.input.cluster, namespace: s.input.namespace, release: s.input.release, windowMs, run: s.status.run ?? '' });
  const seen = judgeRepeats(earlier, limit, windowMs);
  note(s, 'check', seen.summary, !seen.hold);
  s.status.view.repeats = { summary: seen.summary, unlocks: seen.unlocks, held: seen.hold };
  s.repeats = seen.seen;
  if (!seen.hold) return undefined;
  const d = await askHuman(s, 'repeated', `a human to look at why it keeps getting stuck, then continue (with a reason) or stop: ${seen.summary}`);
  return decideAnswer('repeated', d, seen.summary);
}

/** What the plan's pending revision already applied, read now: what a human deciding sees next to the plan. */
async function showApplied(s: Incident, plan: Plan, driver: StorageDriver | undefined): Promise<void> {
  // Nothing read about an earlier plan stays on show while (or if nothing is) read for this one.
  delete s.status.view.applied;
  const applied = await lookAtLiveObjects(s, liveObjectsInput(s, plan, driver));
  if (applied) {
    s.status.view.applied = {
      summary: applied.summary,
      objects: applied.objects.map((o) => ({ kind: o.kind, namespace: o.namespace, name: o.name, verdict: o.verdict })),
    };
  }
}

/** What the pending and the last deployed revision's manifests name, read live; from the backups once unlocked. */
function liveObjectsInput(s: Incident, plan: Plan, driver: StorageDriver | undefined, unlocked?: UnlockResult): LiveObjectsInput | undefined {
  const pending = intendedRevision(plan.state);
  if (!pending || !driver) return undefined;
  const backup = unlocked?.actions.find((a) => a.revision === pending.revision)?.backupName;
  const below = plan.state.lastDeployed;
  return {
    ...s.ref,
    driver,
    pending: { revision: pending.revision, objectName: pending.objectName, ...(backup ? { backupName: backup } : {}) },
    ...(below ? { deployed: { revision: below.revision, objectName: below.objectName } } : {}),
  };
}

/** Evidence, not a gate: when the objects cannot be compared the incident goes on, saying so. */
async function lookAtLiveObjects(s: Incident, input: LiveObjectsInput | undefined, when = ''): Promise<LiveObjectsResult | undefined> {
  if (!input) return undefined;
  try {
    const live = await retried.readLiveObjects(input);
    if (!when) note(s, 'check', live.summary, live.changing === 0 || live.applied === live.changing);
    return live;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    note(s, 'check', `could not compare the release's live objects${when}: ${err.cause instanceof Error ? err.cause.message : err.message}`, false);
    return undefined;
  }
}

async function lookAtRelease(s: Incident) {
  const history = await retried.readReleaseHistory(s.ref);
  note(s, 'check', history.state.reason, history.state.kind === 'Locked');
  return history;
}

/** What a human deciding sees: the stuck revision, each record to back up and remove, the plan's digest. */
function showPlan(s: Incident, plan: Plan): void {
  const { state, approved } = plan;
  const digest = planDigest(approved, s.policy.strategy);
  s.plan = { digest, words: describePlan(s.policy.strategy, plan.approved) };
  s.status.view.release = {
    summary: state.reason,
    ...(state.pending[0] ? { revision: state.pending[0].revision, status: state.pending[0].status } : {}),
    ...(state.pendingSince ? { pendingSince: state.pendingSince } : {}),
    ...(state.lastDeployed ? { lastDeployedRevision: state.lastDeployed.revision } : {}),
  };
  s.status.view.plan = { strategy: s.policy.strategy, digest, records: approved.map((r) => ({ ...r, backupName: backupName(s.input.release, r.revision, r.uid) })) };
}



/**
 * The approval gate before step 4: approvers (as many distinct ones as the policy asks) approve
 * exactly this plan, or the policy an operator configured does.
 */
async function approval(s: Incident, plan: Plan): Promise<End | Plan> {
  enter(s, 'approval');
  const answer = s.policy.autoApprove ? approveByPolicy(s, s.policy.autoApprove) : await askApproval(s, plan);
  if (isEnd(answer)) return answer;
  s.status.approval = answer.decision;
  return decideAnswer('approval', answer.decision, plan.state.reason) ?? answer.plan ?? plan;
}

function approveByPolicy(s: Incident, by: { configuredBy: string; reason: string }): { decision: RecordedDecision; plan?: Plan } {
  const decision: RecordedDecision = {
    action: 'approve',
    by: `policy (configured by ${by.configuredBy})`,
    reason: by.reason,
    ...(s.plan ? { plan: s.plan.digest } : {}),
    verifiedBy: 'operator-policy',
    via: 'policy',
    groups: [],
    at: new Date().toISOString(),
  };
  s.status.approvals?.push(decision);
  note(s, 'decision', `approved by the operator's policy, configured by ${by.configuredBy}: ${by.reason}`);
  return { decision };
}

/** The patch id under which a changed plan reads its live objects again before approval is asked. */
const CHANGED_PLAN_READS_LIVE_OBJECTS = 'changed-plan-reads-live-objects';

/** Wait for the approvers. When the alert resolves, look again: the release may be unstuck, or changed. */
async function askApproval(s: Incident, first: Plan): Promise<End | { decision: RecordedDecision; plan: Plan }> {
  let plan = first;
  const w = openHold(s, 'approval', approvalRequest(s));
  try {
    for (;;) {
      const next = await nextOnHold(s, w);
      if (next !== 'alert-resolved') {
        if (!approvesAnotherPlan(s, next)) return { decision: answered(s, w, next), plan };
        // Given while the release was read again, on the plan shown then: it approves records that
        // are no longer the lock. (Incidents started before this check took it as it was.)
        if (patched(STALE_APPROVAL_DROPPED)) {
          s.inbox.decision = undefined;
          note(s, 'wait', `${next.by}'s approval of plan ${next.plan} came while the release was read again; it does not count for plan ${s.plan?.digest}, which approval is now asked for`);
          continue;
        }
        return { decision: answered(s, w, next), plan };
      }
      const history = await retried.readReleaseHistory(s.ref);
      note(s, 'check', `alert resolved; looked again: ${history.state.reason}`, history.state.kind === 'Locked');
      const look = decideLookAgain(plan.approved, history.state, s.policy);
      if (look.look === 'not-stuck') return look.ending;
      if (look.look === 'changed') {
        const before = { digest: s.plan?.digest, approvals: approvalsOfPlan(s) };
        plan = look.plan;
        showPlan(s, plan);
        const voided = before.approvals.length ? `; ${before.approvals.map((a) => a.by).join(' and ')}'s approval of plan ${before.digest} no longer counts` : '';
        note(s, 'wait', `the pending records changed; approval is now asked for plan ${s.plan?.digest}: ${s.plan?.words}${voided}`);
        s.status.waitingFor = w.waitingFor = approvalRequest(s);
        // The request names the plan: the alert says the new one.
        raise(s, w);
        // Incidents started before this read showed the first plan's evidence next to the new plan.
        if (patched(CHANGED_PLAN_READS_LIVE_OBJECTS)) await showApplied(s, plan, history.driver);
      }
    }
  } finally {
    leaveHold(s);
  }
}

const STALE_APPROVAL_DROPPED = 'stale-approval-dropped';

/** An approval that names another plan than the one asked for now (it was judged while the plan changed). */
const approvesAnotherPlan = (s: Incident, d: RecordedDecision): boolean => d.action === 'approve' && d.plan !== s.plan?.digest;

interface Unlocked {
  plan: Plan;
  driver: StorageDriver;
  unlock: UnlockResult;
}

/** 4. Re-check steps 1-3 against what was approved, then unlock (delete the pending revision's record). */
async function unlock(s: Incident, plan: Plan): Promise<End | Unlocked> {
  enter(s, 'unlock');
  const still = await recheck(s, plan);
  if (isEnd(still)) return still;
  const { driver } = still;
  const { cluster, namespace, release } = s.input;
  try {
    // Once started, an unlock runs to its end even if the workflow is cancelled meanwhile.
    const done = await CancellationScope.nonCancellable(() =>
      retried.unlockRelease({ cluster, namespace, release, driver, strategy: s.policy.strategy, approved: plan.approved, incident: s.id, approvals: mandateOf(s) }),
    );
    note(s, 'action', done.summary, true);
    return { plan, driver, unlock: done };
  } catch (err) {
    const refused = failedWith(err, FAILURE_TYPES.ReleaseChanged, FAILURE_TYPES.ApprovalRefused);
    if (refused) return { outcome: 'needs-investigation', reason: `the unlock was refused at the last moment: ${refused}` };
    throw err;
  }
}

/** The message of an activity's typed failure, when it is one of `types`. */
function failedWith(err: unknown, ...types: FailureType[]): string | undefined {
  if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)) return undefined;
  const { type, message } = err.cause;
  return types.some((t) => t === type) ? message : undefined;
}

/** CI, the Deployments and the lock, looked at again: unless a human overrode a hold, each must be as approved. */
async function recheck(s: Incident, plan: Plan): Promise<End | { driver: StorageDriver }> {
  const { cluster, namespace } = s.input;
  const ci = await retried.checkCiQuiet(s.gitlab);
  note(s, 'check', `re-check: ${ci.summary}`, ci.quiet);
  const busy = decideRecheck({ check: 'ci', quiet: ci.quiet, summary: ci.summary, overridden: s.overrides.ci !== undefined });
  if (busy) return busy;
  const deployments = await retried.checkDeploymentHealth({ cluster, namespace, hpaTolerance: s.policy.hpaTolerance });
  note(s, 'check', `re-check: ${describeHealth(deployments)}`, deployments.healthy);
  const unhealthy = decideRecheck({ check: 'health', healthy: deployments.healthy, summary: describeHealth(deployments), overridden: s.overrides.health !== undefined });
  if (unhealthy) return unhealthy;
  const history = await retried.readReleaseHistory(s.ref);
  const go = decideUnlock(plan.approved, history.state, history.driver);
  note(s, 'check', `re-check: ${go.seen}`, go.action === 'unlock');
  return go.action === 'unlock' ? { driver: go.driver } : go.ending;
}

interface Verified {
  /** The records approved and unlocked: the re-run is checked against their approval too. */
  approved: ApprovedRecord[];
  unlock: UnlockResult;
  verification: VerifyResult;
  /** Where to read the release's objects from, for the roll-forward's before and after. */
  live?: LiveObjectsInput;
}

/** 5. Helm shows the release deployed again. */
async function verify(s: Incident, u: Unlocked): Promise<End | Verified> {
  enter(s, 'verify');
  const expect = { ...u.plan.expect, strategy: s.policy.strategy, unlocked: u.unlock.actions.map((a) => a.revision) };
  const verification = await retried.verifyRelease({ ...s.ref, driver: u.driver, expect });
  note(s, 'check', verification.summary, verification.verified);
  if (verification.verified) s.clock.verifiedAt = Date.now();
  s.status.view.verification = { verified: verification.verified, summary: verification.summary };
  const done = { unlock: u.unlock, verification };
  const notVerified = decideVerified(verification);
  return notVerified ? { ...notVerified, done } : { ...done, approved: u.plan.approved, live: liveObjectsInput(s, u.plan, u.driver, u.unlock) };
}

/**
 * 6. Roll forward: re-run the failed deploy job. The release's live objects, read just before and
 * after it, say what it changed; its log's dry-run diff is quoted, and where they disagree the
 * cluster decides.
 */
async function rollForward(s: Incident, done: Verified): Promise<End> {
  enter(s, 'roll-forward');
  const verified = done.verification.summary;
  const found = await findJobToRerun(s);
  const { unlock, verification } = done;
  if (!found) {
    note(s, 'check', 'no failed deploy job to re-run');
    return { ...decideRollForward(verified, { job: 'none' }), done: { unlock, verification } };
  }
  const { watch, job } = found;
  const before = await lookAtLiveObjects(s, done.live, ' before the re-run');
  const drift = before && noteDrift(s, before.objects);
  let rerun;
  try {
    rerun = await retried.retryCiJob({ ...s.ref, project: watch.project, jobId: job.id, approved: done.approved, strategy: s.policy.strategy, approvals: mandateOf(s) });
  } catch (err) {
    const refused = failedWith(err, FAILURE_TYPES.ApprovalRefused);
    if (!refused) throw err;
    note(s, 'error', refused, false);
    return { outcome: 'needs-review', reason: `${verified}; the re-run of job ${job.id} was refused: ${refused}`, done: { unlock, verification } };
  }
  note(s, 'action', `retried job ${job.id} as job ${rerun.id}${rerun.alreadyRetried ? ' (found the earlier retry)' : ''}: ${rerun.webUrl}`);
  if (!(await waitForJob(s, watch, rerun))) {
    return { ...decideRollForward(verified, { job: 'timed-out', id: rerun.id, timeoutMs: s.policy.ciJobTimeoutMs }), done: { unlock, verification } };
  }
  const result = await retried.readDryRunDiff({ project: watch.project, jobId: rerun.id });
  const { verdict, reason, mode } = result.diff;
  note(s, 'check', `job ${rerun.id} ${result.job.status}; dry run: ${verdict}: ${reason}`, verdict === 'no-op');
  s.status.view.dryRun = { jobId: rerun.id, verdict, reason };
  const after = before && (await lookAtLiveObjects(s, done.live, ' after the re-run'));
  const cluster = before && after ? judgeRollForwardChange(before.objects, after.objects, drift) : undefined;
  if (cluster) {
    note(s, 'check', `the cluster: ${cluster.summary}`, cluster.change === 'nothing' || cluster.change === 'completed');
    s.status.view.clusterChange = { change: cluster.change, summary: cluster.summary };
  }
  const end = decideRollForward(verified, { job: 'finished', status: result.job.status, verdict, reason, mode, ...(cluster ? { cluster } : {}) });
  return { ...end, done: { unlock, verification, rerun: { job: result.job, diff: result.diff, ...(cluster ? { cluster } : {}) } } };
}

/** Objects someone changed outside both revisions, seen just before the re-run (it may undo that): written down. */
function noteDrift(s: Incident, before: readonly LiveObject[]): DriftBeforeRerun | undefined {
  const drift = judgeDriftBeforeRerun(before, s.status.view.applied?.objects);
  if (drift) note(s, 'check', drift.summary, false);
  return drift;
}

/** The newest failed deploy job, in the first watched project that has one. */
async function findJobToRerun(s: Incident): Promise<{ watch: CiWatch; job: CiJob } | undefined> {
  for (const watch of s.gitlab) {
    const job = await retried.findJobToRerun(watch);
    if (job) return { watch, job };
  }
  return undefined;
}

/** Poll the re-run job until it finishes (true) or ciJobTimeout passes (false). */
async function waitForJob(s: Incident, watch: CiWatch, rerun: CiJob): Promise<boolean> {
  const deadline = Date.now() + s.policy.ciJobTimeoutMs;
  let current = rerun;
  for (;;) {
    const next = decideRerunWait(current.status, Date.now(), deadline);
    if (next === 'give-up') return false;
    if (next === 'read-diff') break;
    s.status.waitingFor = `CI job ${rerun.id} (${current.status}) to finish`;
    await sleep(s.policy.ciPollIntervalMs);
    current = await retried.getCiJob({ project: watch.project, jobId: rerun.id });
  }
  s.status.waitingFor = undefined;
  return true;
}

/** Cancelled: record it and stop. An activity failed for good: the outcome is `failed`. */
async function endOnError(s: Opened, err: unknown): Promise<RemediationResult> {
  if (isCancellation(err)) {
    note(s, 'error', `cancelled during ${s.status.step}`, false);
    indexOutcome(s, 'aborted');
    await CancellationScope.nonCancellable(async () => {
      await retried.reportOutcome({
        incident: s.id,
        outcome: 'aborted',
        reason: `cancelled during ${s.status.step}`,
        cancelled: true,
        times: recoveryTimes(s.clock, s.status.view.release?.pendingSince, Date.now()),
      });
      await toldAll(s);
    });
    throw err;
  }
  if (err instanceof ActivityFailure) {
    const cause = err.cause instanceof Error ? err.cause.message : err.message;
    note(s, 'error', `${err.activityType} failed: ${cause}`, false);
    return finish(s, { outcome: 'failed', reason: gaveUp(s, err) });
  }
  throw err;
}
