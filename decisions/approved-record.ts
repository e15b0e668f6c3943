// The approved pending record as the unlock reads it (when it first looks, after waiting for an
// earlier attempt's request to land, or after the API server refused our write): still as
// approved, gone, marked failed by us, or changed by someone else. And when to wait first.
//
// Why wait: an attempt that gave up on its DELETE (or PUT) has not unsent it. With the API server
// frozen (SIGSTOP, a stalled node), the request sits in the server's socket buffer, and the server
// runs it when it resumes, after the attempt timed out and while Temporal's retry is already
// reading. A retry that saw the record just before that request ran, then sent its own, made two
// DELETE requests for one unlock (the second answered 404: issue 14's double action). So a retry
// that finds its own backup, proof that an earlier attempt got as far as the write, waits until the
// API server has had time to run what it holds, reads the record again, and judges it here.
import type { UnlockStrategy } from './schemas';

export type ApprovedRecordState =
  /** Same uid and resourceVersion as approved: nothing has written it; ours to act on. */
  | 'as-approved'
  /** Not there: whose work that was is judgeRecordGone's question (record-gone.ts). */
  | 'gone'
  /** Marked failed by helm-unstuck from exactly the approved resourceVersion (mark-failed only). */
  | 'marked-by-us'
  /** Recreated (another uid) or written by someone else (another resourceVersion, without our mark). */
  | 'changed';

export interface RecordSeen {
  uid: string;
  resourceVersion: string;
  /** The MARKED_FROM annotation: the resourceVersion helm-unstuck marked the record failed from. */
  markedFrom?: string;
}

export function judgeApprovedRecord(approved: { uid: string; resourceVersion: string }, strategy: UnlockStrategy, now: RecordSeen | undefined): ApprovedRecordState {
  if (!now) return 'gone';
  if (now.uid !== approved.uid) return 'changed';
  if (now.resourceVersion === approved.resourceVersion) return 'as-approved';
  // Our PUT gives the record a new resourceVersion and records the one it replaced. A delete never
  // leaves a mark: under that strategy a marked record is someone else's (an earlier incident's) doing.
  return strategy === 'mark-failed' && now.markedFrom === approved.resourceVersion ? 'marked-by-us' : 'changed';
}

export interface BackupWrite {
  /** Our backup create wrote it (`written`), or found it already there, a copy of this record (`found`). */
  backup: 'written' | 'found';
  /** The incident recorded on the backup, and this incident (the workflow id). */
  backupIncident?: string;
  incident: string;
  /** Temporal retried this activity, so an earlier attempt may have acted. */
  earlierAttempt: boolean;
}

/**
 * Whether to wait for an earlier attempt's write before acting: only in a retry that finds this
 * incident's backup already written. A backup written just now means no earlier attempt of ours
 * got past it (it writes the backup before anything else); a backup of another incident is not
 * an attempt of ours; a first attempt has no earlier one.
 */
export function settleBeforeActing(b: BackupWrite): boolean {
  return b.backup === 'found' && b.backupIncident === b.incident && b.earlierAttempt;
}

/** What a retry says when the record carries our mark: ours, though this attempt never heard it land. */
export function markedByUsDetail(object: string, earlierAttempt: boolean): string {
  return earlierAttempt
    ? `${object} was already marked failed by helm-unstuck (this incident, an earlier attempt whose answer was lost)`
    : `${object} was already marked failed by helm-unstuck`;
}
