import { judgeApprovedRecord, markedByUsDetail, settleBeforeActing, type ApprovedRecordState, type BackupWrite, type RecordSeen } from '../../decisions/approved-record';
import type { UnlockStrategy } from '../../decisions/schemas';

const approved = { uid: 'u-3', resourceVersion: '41' };

// The approved record as read now (first look, after the settle wait, or after a 409): one row per situation.
const records: { name: string; strategy: UnlockStrategy; now: RecordSeen | undefined; state: ApprovedRecordState }[] = [
  { name: 'untouched since approval: ours to act on', strategy: 'delete', now: { uid: 'u-3', resourceVersion: '41' }, state: 'as-approved' },
  { name: 'untouched, mark-failed', strategy: 'mark-failed', now: { uid: 'u-3', resourceVersion: '41' }, state: 'as-approved' },
  { name: 'gone (an earlier attempt’s DELETE landed, or someone else’s)', strategy: 'delete', now: undefined, state: 'gone' },
  { name: 'gone under mark-failed', strategy: 'mark-failed', now: undefined, state: 'gone' },
  { name: 'deleted and recreated (another uid)', strategy: 'delete', now: { uid: 'u-4', resourceVersion: '41' }, state: 'changed' },
  { name: 'written by someone else (another resourceVersion, no mark)', strategy: 'delete', now: { uid: 'u-3', resourceVersion: '57' }, state: 'changed' },
  { name: 'marked failed by us from the approved resourceVersion (an earlier attempt’s PUT landed)', strategy: 'mark-failed', now: { uid: 'u-3', resourceVersion: '57', markedFrom: '41' }, state: 'marked-by-us' },
  { name: 'our mark, but from another resourceVersion: not this approval’s', strategy: 'mark-failed', now: { uid: 'u-3', resourceVersion: '57', markedFrom: '40' }, state: 'changed' },
  { name: 'our mark on a recreated record (another uid)', strategy: 'mark-failed', now: { uid: 'u-4', resourceVersion: '57', markedFrom: '41' }, state: 'changed' },
  { name: 'a mark under the delete strategy is someone else’s doing', strategy: 'delete', now: { uid: 'u-3', resourceVersion: '57', markedFrom: '41' }, state: 'changed' },
];

test.each(records)('$name', ({ strategy, now, state }) => {
  expect(judgeApprovedRecord(approved, strategy, now)).toBe(state);
});

const ME = 'helm-unstuck/gprd/gitlab/web';
const base: BackupWrite = { backup: 'found', backupIncident: ME, incident: ME, earlierAttempt: true };

// Wait for an earlier attempt's request before acting? One row per situation.
const settles: { name: string; b: Partial<BackupWrite>; settle: boolean }[] = [
  { name: 'a retry finds this incident’s backup: an earlier attempt got to its DELETE or PUT, wait for it', b: {}, settle: true },
  { name: 'a retry that wrote the backup itself: no earlier attempt got past it', b: { backup: 'written' }, settle: false },
  { name: 'a first attempt finding this incident’s backup: no earlier attempt of this activity', b: { earlierAttempt: false }, settle: false },
  { name: 'a retry finding another incident’s backup: not our request to wait for', b: { backupIncident: 'other' }, settle: false },
  { name: 'a retry finding a backup that names no incident', b: { backupIncident: undefined }, settle: false },
];

test.each(settles)('$name', ({ b, settle }) => {
  expect(settleBeforeActing({ ...base, ...b })).toBe(settle);
});

test('our mark found by a retry is reported as this incident’s earlier attempt; by a first attempt, as helm-unstuck’s', () => {
  expect(markedByUsDetail('gitlab/sh.helm.release.v1.web.v3', true)).toMatch(/already marked failed by helm-unstuck \(this incident, an earlier attempt whose answer was lost\)/);
  expect(markedByUsDetail('gitlab/sh.helm.release.v1.web.v3', false)).toBe('gitlab/sh.helm.release.v1.web.v3 was already marked failed by helm-unstuck');
});
