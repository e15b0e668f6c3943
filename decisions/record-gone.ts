// The approved pending record is gone when unlockRelease looks for it, or its delete answers
// 404: whose work was that? In a retried attempt, our backup of exactly that record (its uid),
// taken by this incident, means this incident backed it up and deleted it in an earlier attempt
// whose answer was lost (an API server that froze, a worker that died mid-request). Without a
// backup of it, someone else changed Helm's state.
import type { UnlockStrategy } from './schemas';

export interface RecordGone {
  /** This incident (the workflow id), and the record's uid as approved. */
  incident: string;
  uid: string;
  strategy: UnlockStrategy;
  /** Our backup under the record's backup name, if there is one. */
  backup?: { originalUid?: string; incident?: string };
  /** Gone when we first looked (`look`), or our delete answered 404 just after our backup (`delete`). */
  when: 'look' | 'delete';
  /** Temporal retried this activity, so an earlier attempt may have acted. */
  earlierAttempt: boolean;
}

export type RecordGoneVerdict =
  | { verdict: 'deleted-by-us'; detail: string }
  | { verdict: 'already-unlocked'; detail: string }
  | { verdict: 'changed'; reason: string };

export function judgeRecordGone(g: RecordGone, names: { object: string; backup: string }): RecordGoneVerdict {
  const ourCopy = g.backup?.originalUid === g.uid;
  if (!ourCopy) {
    return { verdict: 'changed', reason: `${names.object} no longer exists and helm-unstuck holds no backup of it: someone else changed Helm's state; deleting nothing` };
  }
  const thisIncident = g.backup?.incident === g.incident;
  // Only a delete removes the record: with mark-failed, a vanished record was someone else's doing.
  // A first attempt has no earlier one: gone at its own delete, someone else was quicker.
  const ours = g.strategy === 'delete' && thisIncident && g.earlierAttempt;
  if (ours) return { verdict: 'deleted-by-us', detail: `${names.object} backed up as ${names.backup} and deleted by this incident (an earlier attempt)` };
  if (g.when === 'delete') {
    return { verdict: 'changed', reason: `${names.object} was deleted by someone else at the last moment; backup ${names.backup} kept` };
  }
  const by = thisIncident ? 'this incident' : `incident ${g.backup?.incident ?? '(unknown)'}`;
  return { verdict: 'already-unlocked', detail: `${names.object} is already gone and was backed up as ${names.backup} by ${by}` };
}
