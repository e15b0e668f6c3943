// unlockRelease retried by Temporal after its earlier attempt's answer was lost (the API server
// froze after taking the DELETE, or the worker died): the retry must report what really
// happened, "backed up and deleted by this incident (an earlier attempt)", not a change by
// someone else; and a retry that finds its own backup waits for the earlier attempt's DELETE (or
// PUT), which a frozen API server may run late, before sending its own: one request in all. Each
// attempt runs as a real activity attempt (MockActivityEnvironment gives it its attempt number)
// against the real API server, through the fault seam.
import { MockActivityEnvironment } from '@temporalio/testing';
import { KubeUnavailableError, type RecordKind } from '../../activities/kubernetes';
import type { UnlockInput, UnlockResult } from '../../activities/unlock';
import { BACKUP_LABELS } from '../../activities/unlock';
import { unavailable, type Fault } from './failing-kube';
import { CLUSTER, failingStackActivities, helmFor, unique, unlockInput } from './fixtures';
import { makeStuck } from './stuck';

const helm = helmFor(3);
const KIND: RecordKind = 'Secret';
const BACKUPS = `${BACKUP_LABELS.managedBy}=helm-unstuck`;

/** A retry that finds its own backup waits this long for the earlier attempt's request (production: 5 s). */
const SETTLE_MS = 1500;

async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('retry') };
  await makeStuck['pending-upgrade'](helm, o);
  const { acts, kube } = failingStackActivities({ unlockSettleMs: SETTLE_MS });
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

test('the retry read the record just before the earlier delete landed: it finds its own backup, looks again, and sends no DELETE', async () => {
  const r = await stuckRelease();
  const before = await r.record();
  await deleteWithLostAnswer(r);
  // The retry's first read still sees the record (the earlier DELETE was still queued then).
  r.kube.on('getRecord', async () => before);
  const res = await r.attempt(2, unlockInput(r.h));
  expect(r.kube.spent).toBe(true);
  expect(r.kube.calls.filter((c) => c.startsWith('deleteRecord'))).toEqual(['deleteRecord!']); // attempt 1's only
  expect(res.actions).toEqual([expect.objectContaining({ outcome: 'deleted', detail: expect.stringMatching(/deleted by this incident \(an earlier attempt\)/) })]);
  expect(await r.backups()).toHaveLength(1);
});

/**
 * Attempt 1 backs up, then its write goes into a frozen API server and it gives up on it: the
 * request is held (not run) until `land()`, as a SIGSTOPped server holds it in its socket buffer.
 */
function writeIntoFrozenServer(r: Awaited<ReturnType<typeof stuckRelease>>, method: 'deleteRecord' | 'replaceRecord') {
  const sent: string[] = [];
  let land: () => Promise<unknown> = async () => undefined;
  const lost = (what: string) => unavailable(`${what}: no answer within 15 s`, 0);
  if (method === 'deleteRecord') {
    r.kube.on('deleteRecord', async (real, kind, ns, name, pre) => {
      land = () => (sent.push('DELETE'), real.deleteRecord(kind, ns, name, pre));
      throw lost(`delete ${kind} ${ns}/${name}`);
    });
  } else {
    r.kube.on('replaceRecord', async (real, rec, rv) => {
      land = () => (sent.push('PUT'), real.replaceRecord(rec, rv));
      throw lost(`replace ${rec.kind} ${rec.namespace}/${rec.name}`);
    });
  }
  // Our own requests, sent through the seam, counted too.
  const ours = () => r.kube.calls.filter((c) => c === method).length;
  return { sent, land: () => land(), requests: () => sent.length + ours() };
}

/**
 * Once the retry has written its backup (answered 409: the earlier attempt's), the held write lands
 * just before the retry looks at the record again after its wait: not after a fixed delay, which
 * a loaded machine could stretch past the wait. A read of the backup in between passes through.
 */
function landBeforeLookingAgain(r: Awaited<ReturnType<typeof stuckRelease>>, frozen: { land: () => Promise<unknown> }) {
  const record = r.h.state.pending[0]!.objectName;
  const lookAgain: Fault<'getRecord'> = async (real, kind, ns, name) => {
    if (name === record) await frozen.land();
    else r.kube.on('getRecord', lookAgain);
    return real.getRecord(kind, ns, name);
  };
  r.kube.on('createRecord', async (real, rec) => {
    try {
      return await real.createRecord(rec);
    } finally {
      r.kube.on('getRecord', lookAgain);
    }
  });
}

test("the earlier attempt's DELETE lands while the retry waits after finding its own backup: one DELETE in all, reported as ours", async () => {
  const r = await stuckRelease();
  const frozen = writeIntoFrozenServer(r, 'deleteRecord');
  await expect(r.attempt(1, unlockInput(r.h))).rejects.toBeInstanceOf(KubeUnavailableError);
  expect(await r.record()).toBeDefined();
  // The server resumes after the retry's backup write is answered (409, ours): only then does it run the held DELETE.
  landBeforeLookingAgain(r, frozen);
  const t0 = Date.now();
  const res = await r.attempt(2, unlockInput(r.h));
  expect(Date.now() - t0).toBeGreaterThanOrEqual(SETTLE_MS);
  expect(r.kube.spent).toBe(true);
  expect(frozen.sent).toEqual(['DELETE']);
  expect(frozen.requests()).toBe(1); // the retry sent none: before, it sent its own and one of the two answered 404
  expect(res.actions).toEqual([expect.objectContaining({ outcome: 'deleted', detail: expect.stringMatching(/deleted by this incident \(an earlier attempt\)/) })]);
  expect(await r.record()).toBeUndefined();
  expect(await r.backups()).toHaveLength(1);
  expect(await helm.status(r.o.release, r.o.namespace)).toEqual({ status: 'deployed', revision: 1 });
});

test("the earlier attempt's DELETE never arrived: the retry waits, finds the record as approved, and deletes it: one DELETE", async () => {
  const r = await stuckRelease();
  const frozen = writeIntoFrozenServer(r, 'deleteRecord'); // never landed
  await expect(r.attempt(1, unlockInput(r.h))).rejects.toBeInstanceOf(KubeUnavailableError);
  const t0 = Date.now();
  const res = await r.attempt(2, unlockInput(r.h));
  expect(Date.now() - t0).toBeGreaterThanOrEqual(SETTLE_MS);
  expect(frozen.sent).toEqual([]);
  expect(frozen.requests()).toBe(1);
  expect(res.actions).toEqual([expect.objectContaining({ outcome: 'deleted', detail: expect.stringMatching(/^deleted sh\.helm\.release\.v1\.\S+ \(revision 2, pending-upgrade\); backup /) })]);
  expect(await r.record()).toBeUndefined();
  expect(await r.backups()).toHaveLength(1);
});

test("mark-failed: the earlier attempt's PUT lands while the retry waits: no second PUT, already unlocked by this incident", async () => {
  const r = await stuckRelease();
  const frozen = writeIntoFrozenServer(r, 'replaceRecord');
  await expect(r.attempt(1, unlockInput(r.h, 'mark-failed'))).rejects.toBeInstanceOf(KubeUnavailableError);
  landBeforeLookingAgain(r, frozen);
  const res = await r.attempt(2, unlockInput(r.h, 'mark-failed'));
  expect(frozen.sent).toEqual(['PUT']);
  expect(frozen.requests()).toBe(1);
  expect(res.actions).toEqual([
    expect.objectContaining({ outcome: 'already-unlocked', detail: expect.stringMatching(/already marked failed by helm-unstuck \(this incident, an earlier attempt whose answer was lost\)/) }),
  ]);
  expect(await r.record()).toMatchObject({ labels: expect.objectContaining({ status: 'failed' }) });
});

test("mark-failed: the earlier attempt's PUT lands just before the retry's, which the API server refuses (409): ours, not a change by someone else", async () => {
  const r = await stuckRelease();
  const frozen = writeIntoFrozenServer(r, 'replaceRecord');
  await expect(r.attempt(1, unlockInput(r.h, 'mark-failed'))).rejects.toBeInstanceOf(KubeUnavailableError);
  // Later than the retry's wait (a server frozen longer): it lands just before the retry's own PUT.
  r.kube.on('replaceRecord', async (real, rec, rv) => (await frozen.land(), real.replaceRecord(rec, rv)));
  const res = await r.attempt(2, unlockInput(r.h, 'mark-failed'));
  expect(r.kube.spent).toBe(true);
  expect(frozen.sent).toEqual(['PUT']);
  expect(res.actions).toEqual([expect.objectContaining({ outcome: 'already-unlocked', detail: expect.stringMatching(/this incident, an earlier attempt/) })]);
  expect(await r.record()).toMatchObject({ labels: expect.objectContaining({ status: 'failed' }) });
  expect((await helm.history(r.o.release, r.o.namespace)).map((x) => [x.revision, x.status])).toEqual([
    [1, 'deployed'],
    [2, 'failed'],
  ]);
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
