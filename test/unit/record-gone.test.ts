import { judgeRecordGone, type RecordGone } from '../../decisions/record-gone';

const names = { object: 'gitlab/sh.helm.release.v1.web.v3', backup: 'helm-unstuck.backup.web.v3.5d5f61c5' };
const ME = 'helm-unstuck/gprd/gitlab/web';
const base: RecordGone = { incident: ME, uid: 'u-3', strategy: 'delete', backup: { originalUid: 'u-3', incident: ME }, when: 'look', earlierAttempt: true };

// The record is gone (when looked for, or at our delete): whose work was it? One row per situation.
const table: { name: string; g: Partial<RecordGone>; verdict: string; says: RegExp }[] = [
  { name: 'a retry finds its own backup and the record gone: its earlier attempt deleted it', g: {}, verdict: 'deleted-by-us', says: /backed up as .* and deleted by this incident \(an earlier attempt\)/ },
  { name: 'a retry whose delete answers 404 after its own backup: the earlier attempt deleted it', g: { when: 'delete' }, verdict: 'deleted-by-us', says: /deleted by this incident \(an earlier attempt\)/ },
  { name: 'a first attempt whose delete answers 404: someone else was quicker', g: { when: 'delete', earlierAttempt: false }, verdict: 'changed', says: /deleted by someone else at the last moment; backup .* kept/ },
  { name: 'a first attempt finding it gone and backed up by this incident: run again, nothing to do', g: { earlierAttempt: false }, verdict: 'already-unlocked', says: /already gone and was backed up as .* by this incident/ },
  { name: 'gone, and backed up by another incident', g: { backup: { originalUid: 'u-3', incident: 'other' }, earlierAttempt: false }, verdict: 'already-unlocked', says: /by incident other/ },
  { name: 'a retry, but the backup is another incident’s: not ours to claim', g: { backup: { originalUid: 'u-3', incident: 'other' } }, verdict: 'already-unlocked', says: /by incident other/ },
  { name: 'gone, no backup at all: someone else changed Helm', g: { backup: undefined }, verdict: 'changed', says: /holds no backup of it: someone else changed Helm's state; deleting nothing/ },
  { name: 'gone, a backup of another uid (an older record of that name)', g: { backup: { originalUid: 'u-old', incident: ME } }, verdict: 'changed', says: /holds no backup of it/ },
  { name: 'mark-failed never deletes: a vanished record is not ours', g: { strategy: 'mark-failed' }, verdict: 'already-unlocked', says: /already gone/ },
  { name: 'mark-failed, 404 at the write: someone else', g: { strategy: 'mark-failed', when: 'delete' }, verdict: 'changed', says: /someone else/ },
];

test.each(table)('$name', ({ g, verdict, says }) => {
  const r = judgeRecordGone({ ...base, ...g }, names);
  expect(r.verdict).toBe(verdict);
  expect('detail' in r ? r.detail : r.reason).toMatch(says);
});
