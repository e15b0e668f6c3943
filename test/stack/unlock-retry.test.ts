// unlockRelease retried by Temporal after its earlier attempt's answer was lost (the API server
// froze after taking the DELETE, or the worker died): the retry must report what really
// happened, "backed up and deleted by this incident (an earlier attempt)", not a change by
// someone else. Each attempt runs as a real activity attempt (MockActivityEnvironment gives it
// its attempt number) against the real API server, through the fault seam.
import { MockActivityEnvironment } from '@temporalio/testing';
import { KubeUnavailableError, type RecordKind } from '../../activities/kubernetes';
import type { UnlockInput, UnlockResult } from '../../activities/unlock';
import { BACKUP_LABELS } from '../../activities/unlock';
import { unavailable } from './failing-kube';
import { CLUSTER, failingStackActivities, helmFor, unique, unlockInput } from './fixtures';
import { makeStuck } from './stuck';

const helm = helmFor(3);
const KIND: RecordKind = 'Secret';
const BACKUPS = `${BACKUP_LABELS.managedBy}=helm-unstuck`;

async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('retry') };
  await makeStuck['pending-upgrade'](helm, o);
  const { acts, kube } = failingStackActivities();
  const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
  const pending = h.state.pending[0]!;
  const record = () => kube.real.getRecord(KIND, o.namespace, pending.objectName);
  const backups = async () => (await kube.real.listRecords(KIND, o.namespace, BACKUPS)).map((b) => b.name);
  /** One attempt of unlockRelease, as Temporal runs it. */
  const attempt = (n: number, input: UnlockInput): Promise<UnlockResult> => new MockActivityEnvironment({ attempt: n }).run(acts.unlockRelease, input);
  return { o, kube, h, record, backups, attempt };
}

/** Attempt 1 deletes the record for real, but its answer is lost (the attempt fails, retryably). */
async function deleteWithLostAnswer(r: Awaited<ReturnType<typeof stuckRelease>>) {
  r.kube.on('deleteRecord', async (real, kind, ns, name, pre) => {
    await real.deleteRecord(kind, ns, name, pre);
    throw unavailable(`delete ${kind} ${ns}/${name}: the answer was lost`, 0);
  });
  await expect(r.attempt(1, unlockInput(r.h))).rejects.toBeInstanceOf(KubeUnavailableError);
  expect(r.kube.spent).toBe(true);
  expect(await r.record()).toBeUndefined();
}

test('the retry finds the record gone and its own backup: deleted by this incident, in the earlier attempt', async () => {
  const r = await stuckRelease();
  await deleteWithLostAnswer(r);
  const res = await r.attempt(2, unlockInput(r.h));
  expect(res.actions).toEqual([
    expect.objectContaining({ outcome: 'deleted', detail: expect.stringMatching(/backed up as .* and deleted by this incident \(an earlier attempt\)/) }),
  ]);
  expect(await r.backups()).toEqual([res.actions[0]!.backupName]);
  expect(await helm.status(r.o.release, r.o.namespace)).toEqual({ status: 'deployed', revision: 1 });
});

test('the retry read the record just before the earlier delete landed: its own delete answers 404, still ours', async () => {
  const r = await stuckRelease();
  const before = await r.record();
  await deleteWithLostAnswer(r);
  // The retry's first read still sees the record (the earlier DELETE was still queued then).
  r.kube.on('getRecord', async () => before);
  const res = await r.attempt(2, unlockInput(r.h));
  expect(r.kube.spent).toBe(true);
  expect(r.kube.calls.filter((c) => c.startsWith('deleteRecord'))).toHaveLength(2);
  expect(res.actions).toEqual([expect.objectContaining({ outcome: 'deleted', detail: expect.stringMatching(/deleted by this incident \(an earlier attempt\)/) })]);
  expect(await r.backups()).toHaveLength(1);
});

test('a first attempt whose delete answers 404: someone else deleted it; refused, the backup kept', async () => {
  const r = await stuckRelease();
  r.kube.on('deleteRecord', async (real, kind, ns, name, pre) => {
    await real.deleteRecord(kind, ns, name, pre); // someone else, a moment before ours
    return real.deleteRecord(kind, ns, name, pre);
  });
  const err = await r.attempt(1, unlockInput(r.h)).catch((e: unknown) => e);
  // Non-retryable, of the type the workflow ends needs-investigation on.
  expect(err).toMatchObject({ type: 'ReleaseChanged', nonRetryable: true });
  expect((err as Error).message).toMatch(/was deleted by someone else at the last moment; backup .* kept/);
  expect(await r.backups()).toHaveLength(1);
});
