// remediateStuckRelease: the runbook, executed durably. One workflow per release.
//
//   1 ci-quiet   checkCiQuiet          no deploy job or deployment running; else wait, then ask a human
//   2 health     checkDeploymentHealth every Deployment healthy; else ask a human (override needs a reason)
//   3 identify   readReleaseHistory    decideIdentify: nothing to do, too young (wait), or ask approval
//   4 approval   (signal / update)     a named approver approves or rejects; escalate, never auto-approve
//                                      unless an operator configured it explicitly
//   5 unlock     unlockRelease         after re-checking 1-3 against what was approved
//   6 verify     verifyRelease         Helm shows the release deployed again
//   7 roll-fwd   retryCiJob, getCiJob, readDryRunDiff → decideRollForward
//
// Expected endings are outcomes, not exceptions. Every check is an activity result in history.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CiJob } from '../activities/gitlab';
import type { UnlockResult } from '../activities/unlock';
import type { VerifyResult } from '../activities/release';
import { describeHealth } from '../decisions/deployment-health';
import { formatDuration } from '../decisions/duration';
import { backupName } from '../decisions/helm';
import type { DiffReport } from '../decisions/dry-run-diff';
import {
  approvedRecords,
  checkDecision,
  decideIdentify,
  decideRollForward,
  differsFromApproved,
  resolvePolicy,
  validateRemediationInput,
  type CiWatch,
  type Decision,
  type Hold,
  type Outcome,
  type RemediationInput,
  type Step,
} from '../decisions/remediation';
import { alertSignal, decideSignal, decideUpdate, statusQuery, type EvidenceEntry, type RemediationStatus } from './definitions';

export interface RemediationResult {
  incident: string;
  outcome: Outcome;
  reason: string;
  cluster: string;
  namespace: string;
  release: string;
  approval?: Decision & { at: string };
  unlock?: UnlockResult;
  verification?: VerifyResult;
  rerun?: { job: CiJob; diff: DiffReport };
  escalations: number;
  evidence: EvidenceEntry[];
}

// Reads are safe to retry for long; actions are idempotent but retried less.
const reads = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});
const actions = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

const FINISHED_JOB = ['success', 'failed', 'canceled', 'skipped'];

export async function remediateStuckRelease(input: RemediationInput): Promise<RemediationResult> {
  const incident = workflowInfo().workflowId;
  const problems = validateRemediationInput(input);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid remediation input: ${problems.join('; ')}`, 'InvalidInput');
  }
  const policy = resolvePolicy(input.policy);
  const { cluster, namespace, release } = input;
  const ref = { cluster, namespace, release, ...(input.driver ? { driver: input.driver } : {}) };

  const st: RemediationStatus = { incident, step: 'ci-quiet', evidence: [], escalations: 0, view: {} };
  // How long each step took (human waits included), for the step-duration metric.
  const stepSeconds: Partial<Record<Step, number>> = {};
  let stepStart = Date.now();
  const enter = (step: Step) => {
    const now = Date.now();
    stepSeconds[st.step] = (stepSeconds[st.step] ?? 0) + (now - stepStart) / 1000;
    stepStart = now;
    st.step = step;
  };
  const note = (kind: EvidenceEntry['kind'], summary: string, ok?: boolean) =>
    st.evidence.push({ at: new Date().toISOString(), step: st.step, kind, summary, ...(ok === undefined ? {} : { ok }) });
  note('check', `started by ${input.trigger.source} (${input.trigger.by})${input.trigger.summary ? `: ${input.trigger.summary}` : ''}`);

  let decision: Decision | undefined;
  let recheck = false;
  const take = (d: Decision) => {
    decision = d;
    note('decision', `${d.by}: ${d.action}, because ${d.reason}`);
  };
  setHandler(statusQuery, () => st);
  setHandler(
    decideUpdate,
    (d) => {
      take(d);
      return { accepted: true as const, step: st.step };
    },
    {
      validator: (d) => {
        const why = checkDecision(d, st.hold, policy.approvers);
        if (why) throw new Error(why);
      },
    },
  );
  setHandler(decideSignal, (d) => {
    const why = checkDecision(d, st.hold, policy.approvers);
    if (why) note('signal', `ignored a decision from ${String(d?.by)}: ${why}`, false);
    else take(d);
  });
  setHandler(alertSignal, (a) => {
    note('signal', `alert ${a.fingerprint} ${a.status}${a.endsAt && a.status === 'resolved' ? ` (ended ${a.endsAt})` : ''}`);
    if (a.status === 'resolved') recheck = true;
  });

  /**
   * Wait for a human on a hold. Escalates every escalateAfter and keeps waiting: nobody is
   * approved by default. `onRecheck` runs when the alert resolves; returning true ends the wait.
   */
  async function askHuman(hold: Hold, waitingFor: string, onRecheck?: () => Promise<boolean>): Promise<Decision | undefined> {
    st.hold = hold;
    st.waitingFor = waitingFor;
    decision = undefined;
    const since = Date.now();
    note('wait', `waiting for ${waitingFor}`);
    try {
      for (;;) {
        const woke = await condition(() => decision !== undefined || recheck, policy.escalateAfterMs);
        if (decision) return decision;
        if (recheck) {
          recheck = false;
          if (onRecheck && (await onRecheck())) return undefined;
          continue;
        }
        if (!woke) {
          st.escalations++;
          const waited = Date.now() - since;
          note('escalation', `escalation ${st.escalations}: still waiting for ${waitingFor} after ${formatDuration(waited)}`);
          await reads.notifyEscalation({ incident, waitingFor, waitedMs: waited, count: st.escalations, summary: waitingFor });
        }
      }
    } finally {
      st.hold = undefined;
      st.waitingFor = undefined;
    }
  }

  async function finish(outcome: Outcome, reason: string, extra: Partial<RemediationResult> = {}): Promise<RemediationResult> {
    enter('done');
    st.outcome = outcome;
    st.reason = reason;
    note('decision', `${outcome}: ${reason}`);
    await reads.reportOutcome({ incident, outcome, reason, stepSeconds });
    return {
      incident,
      outcome,
      reason,
      cluster,
      namespace,
      release,
      ...(st.approval ? { approval: st.approval } : {}),
      ...extra,
      escalations: st.escalations,
      evidence: st.evidence,
    };
  }

  async function run(): Promise<RemediationResult> {
    // 1. No CI job is deploying to this cluster.
    enter('ci-quiet');
    let ci = await reads.checkCiQuiet(input.gitlab);
    note('check', ci.summary, ci.quiet);
    st.view.ci = { quiet: ci.quiet, summary: ci.summary };
    for (let i = 1; !ci.quiet && i < policy.ciMaxChecks; i++) {
      st.waitingFor = `CI to go quiet (check ${i + 1} of ${policy.ciMaxChecks} in ${formatDuration(policy.ciRecheckIntervalMs)})`;
      await sleep(policy.ciRecheckIntervalMs);
      ci = await reads.checkCiQuiet(input.gitlab);
      note('check', ci.summary, ci.quiet);
      st.view.ci = { quiet: ci.quiet, summary: ci.summary };
    }
    st.waitingFor = undefined;
    let ciOverride: Decision | undefined;
    if (!ci.quiet) {
      const d = (await askHuman('ci-busy', `a human to continue or abort: ${ci.summary}`))!;
      if (d.action === 'abort') return finish('aborted', `${d.by} aborted while CI was busy: ${d.reason}`);
      ciOverride = d;
    }

    // 2. Every Deployment is healthy.
    enter('health');
    const health = await reads.checkDeploymentHealth({ cluster, namespace, hpaTolerance: policy.hpaTolerance });
    note('check', describeHealth(health), health.healthy);
    st.view.health = { healthy: health.healthy, summary: health.summary, deployments: health.deployments.map((d) => d.summary) };
    let healthOverride: Decision | undefined;
    if (!health.healthy) {
      const d = (await askHuman('unhealthy', `a human to override (with a reason) or stop: ${describeHealth(health)}`))!;
      if (d.action === 'abort') return finish('needs-investigation', `${health.summary}; ${d.by} stopped: ${d.reason}`);
      healthOverride = d;
    }

    // 3. Identify the stuck release and its revision.
    enter('identify');
    let history = await reads.readReleaseHistory(ref);
    let next = decideIdentify(history.state, policy);
    note('check', history.state.reason, history.state.kind === 'Locked');
    while (next.action === 'wait-young') {
      note('wait', next.reason);
      st.waitingFor = `the pending revision to be ${formatDuration(policy.minPendingAgeMs)} old`;
      await sleep(next.waitMs);
      st.waitingFor = undefined;
      history = await reads.readReleaseHistory(ref);
      next = decideIdentify(history.state, policy);
      note('check', history.state.reason, history.state.kind === 'Locked');
    }
    if (next.action === 'nothing-to-do') return finish('nothing-to-do', next.reason);
    if (next.action === 'investigate') return finish('needs-investigation', next.reason);
    let expect = next.expect;
    let approved = approvedRecords(history.state);
    const showPlan = () => {
      const s = history.state;
      st.view.release = {
        summary: s.reason,
        ...(s.pending[0] ? { revision: s.pending[0].revision, status: s.pending[0].status } : {}),
        ...(s.pendingSince ? { pendingSince: s.pendingSince } : {}),
        ...(s.lastDeployed ? { lastDeployedRevision: s.lastDeployed.revision } : {}),
      };
      st.view.plan = { strategy: policy.strategy, records: approved.map((r) => ({ ...r, backupName: backupName(release, r.revision, r.uid) })) };
    };
    showPlan();

    // 4. A human approves exactly these records.
    enter('approval');
    const what = () => `${policy.strategy === 'delete' ? 'back up and delete' : 'back up and mark failed'} ${approved.map((r) => `${r.objectName} (${r.status}, uid ${r.uid})`).join(', ')}`;
    let d: Decision | undefined;
    if (policy.autoApprove) {
      d = { action: 'approve', by: `policy (configured by ${policy.autoApprove.configuredBy})`, reason: policy.autoApprove.reason };
      note('decision', `approved by policy configured by ${policy.autoApprove.configuredBy}: ${policy.autoApprove.reason}`);
    } else {
      d = await askHuman('approval', `approval by ${policy.approvers.join(' or ')} to ${what()}`, async () => {
        history = await reads.readReleaseHistory(ref);
        const now = decideIdentify(history.state, { minPendingAgeMs: 0 });
        note('check', `alert resolved; looked again: ${history.state.reason}`, history.state.kind === 'Locked');
        if (now.action !== 'ask-approval') return true;
        if (differsFromApproved(approved, history.state)) {
          approved = approvedRecords(history.state);
          expect = now.expect;
          showPlan();
          note('wait', `the pending records changed; approval is now asked for: ${what()}`);
        }
        return false;
      });
      if (!d) return finish('nothing-to-do', `the alert resolved and the release is no longer stuck: ${history.state.reason}`);
    }
    st.approval = { ...d, at: new Date().toISOString() };
    if (d.action === 'reject') return finish('rejected', `${d.by} rejected: ${d.reason}`);

    // 5. Re-check steps 1-3 against what was approved, then unlock.
    enter('unlock');
    const ci2 = await reads.checkCiQuiet(input.gitlab);
    note('check', `re-check: ${ci2.summary}`, ci2.quiet);
    if (!ci2.quiet && !ciOverride) return finish('needs-investigation', `CI became busy after approval: ${ci2.summary}`);
    const health2 = await reads.checkDeploymentHealth({ cluster, namespace, hpaTolerance: policy.hpaTolerance });
    note('check', `re-check: ${describeHealth(health2)}`, health2.healthy);
    if (!health2.healthy && !healthOverride) return finish('needs-investigation', `Deployments became unhealthy after approval: ${describeHealth(health2)}`);
    const history2 = await reads.readReleaseHistory(ref);
    const changed = differsFromApproved(approved, history2.state);
    note('check', `re-check: ${changed ?? `still exactly what was approved: ${history2.state.reason}`}`, !changed);
    if (changed) {
      return history2.state.kind === 'Locked'
        ? finish('needs-investigation', `the release changed after approval; nothing was deleted: ${changed}`)
        : finish('nothing-to-do', `the release is no longer stuck; nothing was deleted: ${history2.state.reason}`);
    }
    let unlock: UnlockResult;
    try {
      // Once started, an unlock runs to its end even if the workflow is cancelled meanwhile.
      unlock = await CancellationScope.nonCancellable(() =>
        actions.unlockRelease({ cluster, namespace, release, driver: history2.driver!, strategy: policy.strategy, approved, incident }),
      );
    } catch (err) {
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ReleaseChanged') {
        return finish('needs-investigation', `the release changed at the last moment; nothing was deleted: ${err.cause.message}`);
      }
      throw err;
    }
    note('action', unlock.summary, true);

    // 6. Helm shows the release deployed again.
    enter('verify');
    const verification = await reads.verifyRelease({ ...ref, driver: history2.driver!, expect });
    note('check', verification.summary, verification.verified);
    st.view.verification = { verified: verification.verified, summary: verification.summary };
    if (!verification.verified) return finish('needs-investigation', `unlocked, but ${verification.summary}`, { unlock, verification });

    // 7. Roll forward: re-run the failed deploy job and read its dry-run diff.
    enter('roll-forward');
    let job: CiJob | null = null;
    let watch: CiWatch | undefined;
    for (const w of input.gitlab) {
      job = await reads.findJobToRerun(w);
      if (job) {
        watch = w;
        break;
      }
    }
    if (!job || !watch) {
      note('check', 'no failed deploy job to re-run');
      return finish('unstuck-and-verified', `${verification.summary} No failed deploy job to re-run.`, { unlock, verification });
    }
    const rerun = await actions.retryCiJob({ project: watch.project, jobId: job.id });
    note('action', `retried job ${job.id} as job ${rerun.id}${rerun.alreadyRetried ? ' (found the earlier retry)' : ''}: ${rerun.webUrl}`);
    let current: CiJob = rerun;
    const deadline = Date.now() + policy.ciJobTimeoutMs;
    while (!FINISHED_JOB.includes(current.status)) {
      if (Date.now() >= deadline) {
        return finish('needs-investigation', `the re-run job ${rerun.id} did not finish within ${formatDuration(policy.ciJobTimeoutMs)}`, { unlock, verification });
      }
      st.waitingFor = `CI job ${rerun.id} (${current.status}) to finish`;
      await sleep(policy.ciPollIntervalMs);
      current = await reads.getCiJob({ project: watch.project, jobId: rerun.id });
    }
    st.waitingFor = undefined;
    const result = await reads.readDryRunDiff({ project: watch.project, jobId: rerun.id });
    note('check', `job ${rerun.id} ${result.job.status}; dry run: ${result.diff.verdict}: ${result.diff.reason}`, result.diff.verdict === 'no-op');
    st.view.dryRun = { jobId: rerun.id, verdict: result.diff.verdict, reason: result.diff.reason };
    const end = decideRollForward(result.job.status, result.diff.verdict, result.diff.reason);
    return finish(end.outcome, `${verification.summary} ${end.reason}`, { unlock, verification, rerun: { job: result.job, diff: result.diff } });
  }

  try {
    return await run();
  } catch (err) {
    if (isCancellation(err)) {
      note('error', `cancelled during ${st.step}`, false);
      await CancellationScope.nonCancellable(() =>
        reads.reportOutcome({ incident, outcome: 'aborted', reason: `cancelled during ${st.step}`, cancelled: true }),
      );
      throw err;
    }
    if (err instanceof ActivityFailure) {
      const cause = err.cause instanceof Error ? err.cause.message : err.message;
      note('error', `${err.activityType} failed: ${cause}`, false);
      return finish('failed', `${st.step}: ${err.activityType} failed: ${cause}`);
    }
    throw err;
  }
}

export type { Step };
