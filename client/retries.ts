// What Temporal says of an incident's activities under retry (DescribeWorkflowExecution's
// pendingActivities), in words: "waiting for the API server: 4 attempts, next in 30 s". The
// workflow itself cannot know: retries happen on the server, outside its history.
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { describeRetries, type PendingActivity } from '../decisions/outage';

const STATES: Record<number, PendingActivity['state']> = { 1: 'scheduled', 2: 'started', 3: 'cancel-requested' };

export function retriesOf(d: WorkflowExecutionDescription, now: number): string | undefined {
  const pending: PendingActivity[] = (d.raw.pendingActivities ?? []).map((p) => {
    const next = optionalTsToMs(p.nextAttemptScheduleTime);
    return {
      activityType: p.activityType?.name ?? '?',
      attempt: p.attempt ?? 1,
      state: STATES[Number(p.state)] ?? 'scheduled',
      ...(p.lastFailure?.message ? { lastFailure: p.lastFailure.message } : {}),
      ...(next !== undefined ? { nextAttemptAt: next } : {}),
    };
  });
  return describeRetries(pending, now);
}
