// What an incident's history recorded of a backup, read from the golden histories (captured before
// digests: their unlocks name backups without one) and from copies of them given a digest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import type { UnlockResult } from '../../activities/unlock';
import { backupInHistory } from '../../cli/backup-history';

type History = temporal.api.history.v1.IHistory;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const load = (name: string): History => historyFromJSON(JSON.parse(readFileSync(join(__dirname, '..', 'histories', `${name}.json`), 'utf8')));

/** The unlock's completion in `h`, and its result. */
function unlockOf(h: History) {
  const scheduled = h.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'unlockRelease')!;
  const done = h.events!.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  const result = defaultPayloadConverter.fromPayload<UnlockResult>(done.activityTaskCompletedEventAttributes!.result!.payloads![0] as never);
  return { scheduled, done, result };
}

const golden = load('unstuck-and-verified');
const ours = { workflowType: 'remediateStuckRelease', taskQueue: golden.events![0]!.workflowExecutionStartedEventAttributes!.taskQueue!.name! };
const backupName = unlockOf(golden).result.actions[0]!.backupName;

/** A copy of the golden history changed by `change`. */
function changed(change: (h: History, u: ReturnType<typeof unlockOf>) => void): History {
  const h = load('unstuck-and-verified');
  change(h, unlockOf(h));
  return h;
}
const withDigest = changed((_h, u) => {
  const result = { ...u.result, actions: u.result.actions.map((a) => ({ ...a, backupDigest: DIGEST })) };
  u.done.activityTaskCompletedEventAttributes!.result!.payloads![0] = defaultPayloadConverter.toPayload(result) as never;
});

test.each<[string, History, string, typeof ours, unknown]>([
  ['an unlock that recorded the backup with its digest', withDigest, backupName, ours, { digest: DIGEST }],
  ['an incident from before digests: the backup, without one', golden, backupName, ours, 'recorded-without-digest'],
  ['a backup this incident did not take', withDigest, 'helm-unstuck.backup.web.v9.other', ours, undefined],
  ['a run on another task queue (anyone can start one and write any result into it)', withDigest, backupName, { ...ours, taskQueue: 'theirs' }, undefined],
  ['a run of another workflow type', withDigest, backupName, { ...ours, workflowType: 'somethingElse' }, undefined],
  [
    'an unlockRelease scheduled on another task queue (run by a worker not ours)',
    changed((_h, u) => {
      u.scheduled.activityTaskScheduledEventAttributes!.taskQueue = { name: 'theirs' };
      const result = { ...u.result, actions: u.result.actions.map((a) => ({ ...a, backupDigest: DIGEST })) };
      u.done.activityTaskCompletedEventAttributes!.result!.payloads![0] = defaultPayloadConverter.toPayload(result) as never;
    }),
    backupName,
    ours,
    undefined,
  ],
])('%s', (_what, history, name, run, expected) => {
  expect(backupInHistory(history, name, run)).toEqual(expected);
});
