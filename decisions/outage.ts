// Outages, in words: what an incident waiting on a retried activity is waiting for (the `status`
// command and the approval page), and how an incident ends when an outage outlasts the retry
// budget: what was done, what was not, and how to resume.
import type { Step } from './vocabulary';

/** Which system each activity talks to, for the words. */
const SYSTEM_OF: Record<string, 'the API server' | 'GitLab'> = {
  checkCiQuiet: 'GitLab',
  findJobToRerun: 'GitLab',
  retryCiJob: 'GitLab',
  getCiJob: 'GitLab',
  readDryRunDiff: 'GitLab',
  checkDeploymentHealth: 'the API server',
  readReleaseHistory: 'the API server',
  scanStuckReleases: 'the API server',
  unlockRelease: 'the API server',
  verifyRelease: 'the API server',
};

/** What Temporal says of an activity it is retrying (DescribeWorkflowExecution's pendingActivities). */
export interface PendingActivity {
  activityType: string;
  /** The attempt under way or next (1 for the first). */
  attempt: number;
  /** SCHEDULED (waiting for its next attempt), STARTED (an attempt runs) or CANCEL_REQUESTED. */
  state: 'scheduled' | 'started' | 'cancel-requested';
  lastFailure?: string;
  /** When the next attempt starts (ms since the epoch), while it waits for it. */
  nextAttemptAt?: number;
}

/** "waiting for the API server: 4 attempts, next in 30 s (last: …)"; undefined when nothing is being retried. */
export function describeRetries(pending: PendingActivity[], now: number): string | undefined {
  const retried = pending.filter((p) => p.attempt > 1 || p.lastFailure);
  if (retried.length === 0) return undefined;
  return retried
    .map((p) => {
      const system = SYSTEM_OF[p.activityType] ?? `activity ${p.activityType}`;
      const failed = p.state === 'started' ? p.attempt - 1 : p.attempt;
      const tries = `${failed} ${failed === 1 ? 'attempt' : 'attempts'}`;
      const next =
        p.state === 'started'
          ? `attempt ${p.attempt} under way`
          : p.nextAttemptAt !== undefined
            ? `next in ${Math.max(0, Math.round((p.nextAttemptAt - now) / 1000))} s`
            : 'next soon';
      return `waiting for ${system}: ${tries}, ${next} (${p.activityType}${p.lastFailure ? `; last: ${p.lastFailure}` : ''})`;
    })
    .join('; ');
}

export interface GaveUp {
  /** Where the incident was. */
  step: Step;
  activityType: string;
  cause: string;
  /** Temporal stopped retrying because the retry budget ran out (not a non-retryable failure). */
  outOfBudget: boolean;
  budget: string;
  /** What was done before: the approved unlock finished, the CI job was retried. */
  unlocked: boolean;
  ciRetried: boolean;
}

/**
 * How an incident ends when an activity fails for good: one reason that says what happened, what
 * was and was not done, and how to resume. Never half-done in a way a re-start cannot finish: an
 * unlock writes its backup before it deletes, and reads the release again when re-started.
 */
export function describeGaveUp(g: GaveUp): string {
  const system = SYSTEM_OF[g.activityType] ?? g.activityType;
  const what = g.outOfBudget
    ? `${system} did not answer within the retry budget (${g.budget}) during ${g.step} (${g.activityType}: ${g.cause})`
    : `${g.step}: ${g.activityType} failed: ${g.cause}`;
  const done: string[] = [];
  const notDone: string[] = [];
  if (g.unlocked) done.push('the approved records were backed up and removed');
  else if (g.activityType === 'unlockRelease') notDone.push('the unlock may not have finished (a backup is always written before the delete, so nothing is lost)');
  else notDone.push('nothing was deleted');
  if (g.unlocked && g.step === 'verify') notDone.push('Helm was not yet seen to show the release deployed');
  if (g.ciRetried) done.push('the CI job was retried');
  if (g.ciRetried) notDone.push("the re-run job's dry run was not judged");
  else if (g.unlocked) notDone.push('the CI job was not re-run');
  const resume = g.unlocked
    ? 're-start the incident (`helm-unstuck start`) to see Helm\'s state again (a release no longer stuck ends nothing-to-do), and re-run the deploy job by hand if it was not'
    : 're-start the incident (`helm-unstuck start`): it reads the release again and asks for approval again';
  return `${what}. Done: ${done.length ? done.join('; ') : 'nothing'}. Not done: ${notDone.join('; ')}. To resume: ${resume}.`;
}
