// What an incident's Temporal history recorded of a backup: the unlock's result names each backup
// it took, with its digest (UnlockAction.backupDigest). Read from the history alone, the way the
// report is, so a finished incident needs no worker; and only from a run of our workflow on our
// task queue, since anyone who can start workflows can write any result into a run of their own.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { UnlockResult } from '../activities/unlock';
import type { HistoryDigest } from '../decisions/backup-digest';

type History = temporal.api.history.v1.IHistory;

export interface OurRun {
  workflowType: string;
  taskQueue: string;
}

/**
 * The digest `history` recorded for `backupName`: `{ digest }`, or 'recorded-without-digest' (an
 * incident from before digests); undefined if this run is not ours or took no such backup.
 */
export function backupInHistory(history: History, backupName: string, ours: OurRun): Exclude<HistoryDigest, 'not-read'> | undefined {
  const events = history.events ?? [];
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  if (started?.workflowType?.name !== ours.workflowType || started.taskQueue?.name !== ours.taskQueue) return undefined;
  const unlocks = new Set<string>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'unlockRelease' && scheduled.taskQueue?.name === ours.taskQueue) unlocks.add(String(e.eventId));
    const done = e.activityTaskCompletedEventAttributes;
    const payload = done?.result?.payloads?.[0];
    if (!done || !payload || !unlocks.has(String(done.scheduledEventId))) continue;
    const result = defaultPayloadConverter.fromPayload<UnlockResult>(payload as never);
    const action = result?.actions?.find((a) => a.backupName === backupName);
    if (action) return typeof action.backupDigest === 'string' ? { digest: action.backupDigest } : 'recorded-without-digest';
  }
  return undefined;
}
