// The unlock's and the restore's safety branches, on the real API server, reached through the
// fault seam (failing-kube.ts): a record changed in the last millisecond, a backup name already
// taken, a flaky API server, forged or stale backups. Each test checks that nothing Helm relies on
// changed, and that its fault really fired.
import { backupName as backupNameOf, recordName } from '../../decisions/helm';
import { randomUUID } from 'node:crypto';
import { decodePayload, encodePayload } from '../../activities/helm-storage';
import { KubeUnavailableError, type RecordKind } from '../../activities/kubernetes';
import type { ReleaseHistory } from '../../activities/release';
import { BACKUP_ANNOTATIONS, BACKUP_LABELS } from '../../activities/unlock';
import { touch, unavailable } from './failing-kube';
import { CLUSTER, digestOfHeld, failingStackActivities, helmFor, unique, unlockInput } from './fixtures';
import { TINY_CHART, type HistoryRow } from './helm';
import { makeStuck } from './stuck';

type PendingRecord = ReleaseHistory['state']['pending'][number];

const helm = helmFor(3);
const KIND: RecordKind = 'Secret';
const BACKUPS = `${BACKUP_LABELS.managedBy}=helm-unstuck`;

async function stuckRelease() {
  const o = { release: unique('web'), namespace: unique('x') };
  await makeStuck['pending-upgrade'](helm, o);
  const { acts, ops, kube } = failingStackActivities();
  const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
  const pending = h.state.pending[0]!;
  const record = async () => kube.real.getRecord(KIND, o.namespace, pending.objectName);
  const backups = async () => (await kube.real.listRecords(KIND, o.namespace, BACKUPS)).map((b) => b.name);
  return { o, acts, ops, kube, h, pending, record, backups, helmHistory: () => helm.history(o.release, o.namespace) };
}

describe('unlock, when the API server or another actor interferes', () => {
  test.each(['delete', 'mark-failed'] as const)(
    '%s: the record changes between the re-read and the write: the API server answers 409, nothing is changed, the backup is kept and named',
    async (strategy) => {
      const { o, acts, kube, h, pending, record, backups, helmHistory } = await stuckRelease();
      const before = await helmHistory();
      // The race, for real: another write lands just before ours, which still carries the approved
      // uid and resourceVersion.
      if (strategy === 'delete') {
        kube.on('deleteRecord', async (real, ...args) => (await touch(real, KIND, o.namespace, pending.objectName), real.deleteRecord(...args)));
      } else {
        kube.on('replaceRecord', async (real, ...args) => (await touch(real, KIND, o.namespace, pending.objectName), real.replaceRecord(...args)));
      }
      const err = await acts.unlockRelease(unlockInput(h, strategy)).catch((e: unknown) => e);
      expect(kube.spent).toBe(true);
      expect(err).toMatchObject({
        type: 'ReleaseChanged',
        nonRetryable: true,
        message: expect.stringMatching(/changed at the last moment \(resourceVersion \d+ → \d+\); the API server refused the change; backup helm-unstuck\.backup\.\S+ kept/),
      });
      const now = await record();
      expect(now).toMatchObject({ uid: pending.uid, labels: expect.objectContaining({ status: 'pending-upgrade' }) });
      expect(now?.annotations?.['touched-by']).toBe('another-operator');
      expect(await helmHistory()).toEqual(before);
      const kept = await backups();
      expect(kept).toHaveLength(1);
      expect((err as Error).message).toContain(kept[0]);
      const copy = await kube.real.getRecord(KIND, o.namespace, kept[0]!);
      expect(copy?.annotations?.[BACKUP_ANNOTATIONS.originalUid]).toBe(pending.uid);
      expect(copy?.data).toEqual(now?.data);
    },
  );

  test('stacked pending: a refusal at the older revision says the newer one was already removed, and where its backup is', async () => {
    const o = { release: unique('web'), namespace: unique('xs') };
    await makeStuck.stacked(helm, o);
    const { acts, kube } = failingStackActivities();
    const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
    expect(h.state.pending.map((p) => p.revision)).toEqual([3, 2]);
    const [newer, older] = h.state.pending as [PendingRecord, PendingRecord];
    kube.on('deleteRecord', async (real, kind, ns, name, pre) => {
      if (name === older.objectName) await touch(real, kind, ns, name);
      return real.deleteRecord(kind, ns, name, pre);
    }, 2);
    const err = await acts.unlockRelease(unlockInput(h)).catch((e: unknown) => e);
    expect(kube.spent).toBe(true);
    expect(err).toMatchObject({
      type: 'ReleaseChanged',
      message: expect.stringMatching(
        new RegExp(`${older.objectName} changed at the last moment .*; already done before this: revision 3 deleted \\(backup helm-unstuck\\.backup\\.\\S+\\)$`),
      ),
    });
    expect(await kube.real.getRecord(KIND, o.namespace, newer.objectName)).toBeUndefined();
    expect(await kube.real.getRecord(KIND, o.namespace, older.objectName)).toMatchObject({ uid: older.uid });
  });

  test('a backup name already taken by an object that is not a copy of this record: refused, nothing deleted, the object untouched', async () => {
    const { o, acts, kube, h, record, backups, helmHistory } = await stuckRelease();
    const before = await helmHistory();
    const recordBefore = await record();
    const forgeries: [string, (a: Record<string, string>, d: Record<string, string>) => void][] = [
      ['a copy of another object', (a) => (a[BACKUP_ANNOTATIONS.originalUid] = 'not-this-uid')],
      ['a stale copy of this object', (_a, d) => (d.release = Buffer.from('an older payload').toString('base64'))],
      ['a copy of this uid claiming another original name', (a) => (a[BACKUP_ANNOTATIONS.originalName] = 'sh.helm.release.v1.other.v2')],
      ['a copy whose digest says it holds something else', (a) => (a[BACKUP_ANNOTATIONS.digest] = `sha256:${'0'.repeat(64)}`)],
    ];
    for (const [what, forge] of forgeries) {
      // Someone creates an object under the backup's name just before we do: our create answers
      // 409 AlreadyExists from the real API server.
      let squatter = '';
      kube.on('createRecord', async (real, rec) => {
        const annotations = { ...rec.annotations };
        const data = { ...rec.data };
        forge(annotations, data);
        squatter = (await real.createRecord({ ...rec, annotations, data })).resourceVersion;
        return real.createRecord(rec);
      });
      const err = await acts.unlockRelease(unlockInput(h)).catch((e: unknown) => e);
      expect({ what, err }).toMatchObject({
        what,
        err: { type: 'BackupProblem', nonRetryable: true, message: expect.stringMatching(/exists but is not a copy of .* not overwriting it, deleting nothing/) },
      });
      expect(kube.spent).toBe(true);
      expect(await record()).toEqual(recordBefore);
      expect(await helmHistory()).toEqual(before);
      const [name] = await backups();
      expect((await kube.real.getRecord(KIND, o.namespace, name!))?.resourceVersion).toBe(squatter);
      const { uid, resourceVersion } = (await kube.real.getRecord(KIND, o.namespace, name!))!;
      await kube.real.deleteRecord(KIND, o.namespace, name!, { uid, resourceVersion });
    }
    // With the name free again, the same approval goes through.
    expect((await acts.unlockRelease(unlockInput(h))).actions[0]?.outcome).toBe('deleted');
  });

  test('the record is gone and the backup name holds an object recording its uid but another name: not "already unlocked"', async () => {
    const { o, acts, kube, h, pending } = await stuckRelease();
    const cur = (await kube.real.getRecord(KIND, o.namespace, pending.objectName))!;
    const name = backupNameOf(o.release, pending.revision, pending.uid);
    // Another actor deleted the pending record and left an object under the backup's name: it
    // records the approved uid, but claims to copy another record.
    await kube.real.createRecord({
      kind: KIND,
      name,
      namespace: o.namespace,
      labels: { [BACKUP_LABELS.managedBy]: 'helm-unstuck', [BACKUP_LABELS.release]: o.release, [BACKUP_LABELS.revision]: String(pending.revision) },
      annotations: {
        [BACKUP_ANNOTATIONS.originalUid]: pending.uid,
        [BACKUP_ANNOTATIONS.originalName]: recordName(o.release, pending.revision + 1),
        [BACKUP_ANNOTATIONS.originalLabels]: JSON.stringify(cur.labels),
        [BACKUP_ANNOTATIONS.originalAnnotations]: '{}',
      },
      type: 'helm-unstuck/backup',
      data: cur.data ?? {},
    });
    await kube.real.deleteRecord(KIND, o.namespace, pending.objectName, { uid: cur.uid, resourceVersion: cur.resourceVersion });
    await expect(acts.unlockRelease(unlockInput(h))).rejects.toMatchObject({
      type: 'ReleaseChanged',
      message: expect.stringMatching(/no longer exists and helm-unstuck holds no backup of it/),
    });
  });

  test('a flaky API server: a failed read changes nothing, a failed delete keeps the backup, and the retry reuses it', async () => {
    const { o, acts, kube, h, record, backups } = await stuckRelease();
    const recordBefore = await record();

    kube.on('getRecord', async (_real, kind, ns, name) => {
      throw unavailable(`read ${kind} ${ns}/${name}`);
    });
    const readFailed = await acts.unlockRelease(unlockInput(h)).catch((e: unknown) => e);
    // Retryable: our typed error is handed to Temporal as is, not as a non-retryable failure.
    expect(readFailed).toBeInstanceOf(KubeUnavailableError);
    expect(kube.spent).toBe(true);
    expect(await record()).toEqual(recordBefore);
    expect(await backups()).toEqual([]);

    kube.on('deleteRecord', async (_real, kind, ns, name) => {
      throw unavailable(`delete ${kind} ${ns}/${name}`, 503);
    });
    await expect(acts.unlockRelease(unlockInput(h))).rejects.toBeInstanceOf(KubeUnavailableError);
    expect(kube.spent).toBe(true);
    expect(await record()).toEqual(recordBefore);
    const kept = await backups();
    expect(kept).toHaveLength(1);

    // Temporal retries the activity: the backup from the first attempt is recognised as ours.
    const res = await acts.unlockRelease(unlockInput(h));
    expect(res.actions).toEqual([expect.objectContaining({ outcome: 'deleted', backupName: kept[0] })]);
    expect(await record()).toBeUndefined();
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 1 });
  });
});

describe('restore refuses what it cannot prove is ours to put back, and writes nothing', () => {
  let r: Awaited<ReturnType<typeof stuckRelease>>;
  let backupName: string;
  let before: HistoryRow[];
  const restore = (name: string) => r.ops.restoreRelease({ cluster: CLUSTER, namespace: r.o.namespace, driver: 'secret', backupName: name });

  beforeAll(async () => {
    r = await stuckRelease();
    backupName = (await r.acts.unlockRelease(unlockInput(r.h))).actions[0]!.backupName;
    // Helm moves on: the next upgrade writes revision 2 again, under the same object name.
    await helm.ok(['upgrade', r.o.release, TINY_CHART, '-n', r.o.namespace, '--set', 'tag=3.0.0']);
    before = await r.helmHistory();
    expect(before.map((x) => [x.revision, x.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });
  afterEach(async () => expect(await r.helmHistory()).toEqual(before));

  test('a backup whose original exists again, as a record Helm wrote after the unlock', async () => {
    await expect(restore(backupName)).rejects.toMatchObject({
      type: 'BackupProblem',
      nonRetryable: true,
      message: `${r.pending.objectName} exists and is not the record helm-unstuck changed; refusing to overwrite it`,
    });
  });

  test('no such backup', async () => {
    await expect(restore('helm-unstuck.backup.nothing-here')).rejects.toMatchObject({ type: 'BackupProblem', message: expect.stringMatching(/^no Secret /) });
  });

  test("one of Helm's own records instead of a backup", async () => {
    await expect(restore(recordName(r.o.release, 1))).rejects.toMatchObject({
      type: 'BackupProblem',
      message: expect.stringMatching(/is not a helm-unstuck backup of a Helm record: label app.kubernetes.io\/managed-by is not "helm-unstuck"/),
    });
  });

  // Forged from the real backup, as a copy of revision 3, which does not exist, by someone who knows
  // the format: its digest annotation is recomputed to match. Restored without the incident's
  // history (which records no such backup: cli-incident.test.ts), only the backup's own checks
  // stand between it and a new record in Helm's history.
  type Forgery = {
    labels?: Record<string, string>;
    originalName?: string;
    originalLabels?: Record<string, string> | string;
    payload?: { name?: string; version?: number };
    /** The backup's own name; by default the one made from the uid it records. */
    name?: string;
  };
  async function forge(f: Forgery): Promise<string> {
    const real = (await r.kube.real.getRecord(KIND, r.o.namespace, backupName))!;
    const labels = JSON.parse(real.annotations![BACKUP_ANNOTATIONS.originalLabels]!) as Record<string, string>;
    const payload = decodePayload(real);
    // Each forgery records a uid of its own, and is named from it as a real backup is.
    const uid = randomUUID();
    const name = f.name ?? backupNameOf(r.o.release, 3, uid);
    const originalLabels = f.originalLabels ?? { ...labels, version: '3' };
    const annotations: Record<string, string> = {
      ...real.annotations,
      [BACKUP_ANNOTATIONS.originalUid]: uid,
      [BACKUP_ANNOTATIONS.originalName]: f.originalName ?? recordName(r.o.release, 3),
      [BACKUP_ANNOTATIONS.originalLabels]: typeof originalLabels === 'string' ? originalLabels : JSON.stringify(originalLabels),
    };
    const data = { ...real.data, release: encodePayload(KIND, { ...payload, version: 3, ...f.payload }) };
    // Labels that are not JSON have no digest to recompute: the real one stays.
    if (typeof originalLabels !== 'string') annotations[BACKUP_ANNOTATIONS.digest] = digestOfHeld({ kind: KIND, namespace: r.o.namespace, annotations, data });
    await r.kube.real.createRecord({ kind: KIND, name, namespace: r.o.namespace, labels: { ...real.labels, [BACKUP_LABELS.revision]: '3', ...f.labels }, annotations, type: real.type!, data });
    return name;
  }
  const as3 = (change: Record<string, string>) => async () => {
    const real = (await r.kube.real.getRecord(KIND, r.o.namespace, backupName))!;
    return { ...(JSON.parse(real.annotations![BACKUP_ANNOTATIONS.originalLabels]!) as Record<string, string>), version: '3', ...change };
  };

  test.each<[string, () => Promise<Forgery>, RegExp]>([
    ['not labelled as ours', async () => ({ labels: { [BACKUP_LABELS.managedBy]: 'someone-else' } }), /label app.kubernetes.io\/managed-by is not "helm-unstuck"/],
    ['original labels that are not JSON', async () => ({ originalLabels: '{not json' }), /not a JSON map of strings/],
    ['original labels without owner=helm', async () => ({ originalLabels: await as3({ owner: 'me' })() }), /label owner is not "helm"/],
    ['original labels of another release', async () => ({ originalLabels: await as3({ name: 'other' })() }), /labels say other v3 but the payload is/],
    ['a payload of another revision', async () => ({ payload: { version: 2 } }), /labels say \S+ v3 but the payload is \S+ v2/],
    ['an original name that is not the record of its revision', async () => ({ originalName: recordName(r.o.release, 9) }), /\S+\.v9 is not the record name of \S+ revision 3/],
    ['a name not made from the uid it records', async () => ({ name: unique('helm-unstuck.backup.forged') }), /its name is not the backup name of \S+\.v3 with uid [0-9a-f-]{36}/],
    ['backup labels naming another revision', async () => ({ labels: { [BACKUP_LABELS.revision]: '2' } }), /its labels name \S+ revision 2, its copy \S+ revision 3/],
  ])('a forged backup: %s', async (_what, forgery, message) => {
    const name = await forge(await forgery());
    await expect(restore(name)).rejects.toMatchObject({ type: 'BackupProblem', nonRetryable: true, message: expect.stringMatching(message) });
    expect(await r.kube.real.getRecord(KIND, r.o.namespace, recordName(r.o.release, 3))).toBeUndefined();
  });

  test('the forgery with every check satisfied (its digest annotation too) would be restored without the history: the checks refused the others, not the setup', async () => {
    const name = await forge({});
    expect(await restore(name)).toMatchObject({ outcome: 'restored', revision: 3 });
    before = await r.helmHistory();
    expect(before.map((x) => x.revision)).toEqual([1, 2, 3]);
  });
});
