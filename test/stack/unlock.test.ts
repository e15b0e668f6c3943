// Runbook steps 3-5 against real helm and the real API server: read the release, unlock it,
// and prove with helm itself that the release is deployed again and can be upgraded.
import { decodePayload, encodePayload, type StoredObject } from '../../activities/helm-storage';
import { BACKUP_ANNOTATIONS, BACKUP_LABELS } from '../../activities/unlock';
import { kindOf } from '../../activities/release';
import { CHART_SECRETS, CLUSTER, helmFor, stackActivities, stackKubeFor, stackOperatorActions, unique, unlockInput } from './fixtures';
import { TINY_CHART, type Helm, type HelmDriver, type HelmMajor } from './helm';
import { hangAndKill, makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const acts = stackActivities();
const ops = stackOperatorActions();
const kube = stackKubeFor()(CLUSTER);

/** helm-unstuck's backups in a namespace (Helm's selector, owner=helm, never matches them). */
async function backupsIn(namespace: string): Promise<string[]> {
  const selector = `${BACKUP_LABELS.managedBy}=helm-unstuck`;
  const found = await Promise.all((['Secret', 'ConfigMap'] as const).map((k) => kube.listRecords(k, namespace, selector)));
  return found.flat().map((b) => `${b.kind}/${b.name}`);
}

function expectNoSecrets(evidence: unknown): void {
  const text = JSON.stringify(evidence);
  for (const s of CHART_SECRETS) expect(text).not.toContain(s);
  expect(text).not.toMatch(/"(manifest|config|values|hooks)"/);
}

const cases: [HelmMajor, HelmDriver][] = [
  [3, 'secret'],
  [3, 'configmap'],
  [4, 'secret'],
  [4, 'configmap'],
];

describe.each(cases)('helm v%i, %s driver', (major, driver) => {
  const helm = helmFor(major, driver);
  const ref = (o: { release: string; namespace: string }) => ({ cluster: CLUSTER, ...o });

  test('stuck upgrade: read, unlock, helm shows N deployed, helm upgrade succeeds; restore gives back the same history', async () => {
    const o = { release: unique('web'), namespace: unique('u') };
    await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
    const before = await helm.history(o.release, o.namespace);

    const h = await acts.readReleaseHistory(ref(o));
    expect(h.driver).toBe(driver);
    expect(h.state).toMatchObject({ kind: 'Locked', pendingStatus: 'pending-upgrade', stacked: false, firstInstall: false });
    expect(h.state.pending.map((r) => r.revision)).toEqual([3]);
    expect(h.state.lastDeployed).toMatchObject({ revision: 2, chart: { name: 'tiny', version: '0.1.0' } });
    expect(h.state.pending[0]).toMatchObject({ description: 'Preparing upgrade', chart: { name: 'tiny' } });
    expect(h.state.pendingForMs).toBeGreaterThanOrEqual(0);
    expect(h.state.pendingForMs).toBeLessThan(120_000);
    expectNoSecrets(h);

    const scan = await acts.scanStuckReleases({ cluster: CLUSTER, namespace: o.namespace, drivers: [driver] });
    expect(scan.stuck).toEqual([
      expect.objectContaining({ release: o.release, revision: 3, status: 'pending-upgrade', lastDeployedRevision: 2 }),
    ]);

    const unlocked = await acts.unlockRelease(unlockInput(h));
    expect(unlocked.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'deleted' })]);
    expectNoSecrets(unlocked);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
    expect((await helm.history(o.release, o.namespace)).map((r) => r.revision)).toEqual([1, 2]);
    // The backup is invisible to Helm: the history above does not show it, and helm list sees one release.
    expect((await helm.list(o.namespace)).map((r) => r.name)).toEqual([o.release]);
    expect(await backupsIn(o.namespace)).toEqual([`${kindOf(driver)}/${unlocked.actions[0]!.backupName}`]);

    const verified = await acts.verifyRelease({ ...ref(o), expect: { deployedRevision: 2 } });
    expect(verified).toMatchObject({ verified: true, revision: 2, status: 'deployed', chart: 'tiny-0.1.0' });

    // Twice is harmless.
    const again = await acts.unlockRelease(unlockInput(h));
    expect(again.actions).toEqual([expect.objectContaining({ revision: 3, outcome: 'already-unlocked' })]);

    const restored = await ops.restoreRelease({
      cluster: CLUSTER,
      namespace: o.namespace,
      driver,
      backupName: unlocked.actions[0]!.backupName,
    });
    expect(restored).toMatchObject({ outcome: 'restored', revision: 3 });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    const restoredAgain = await ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver, backupName: unlocked.actions[0]!.backupName });
    expect(restoredAgain.outcome).toBe('already-restored');

    // The restored record is a new object: unlocking needs a fresh approval of it.
    await expect(acts.unlockRelease(unlockInput(h))).rejects.toMatchObject({ type: 'ReleaseChanged', nonRetryable: true });
    const fresh = await acts.readReleaseHistory(ref(o));
    await acts.unlockRelease(unlockInput(fresh));
    await helm.ok(['upgrade', o.release, TINY_CHART, '-n', o.namespace, '--set', 'tag=3.0.0']);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 3 });
  });

  test('mark-failed strategy: Helm sees the pending revision failed, and upgrades past it', async () => {
    const o = { release: unique('web'), namespace: unique('f') };
    await makeStuck['pending-upgrade'](helm, o);
    const before = await helm.history(o.release, o.namespace);
    const h = await acts.readReleaseHistory(ref(o));
    const res = await acts.unlockRelease(unlockInput(h, 'mark-failed'));
    expect(res.actions).toEqual([expect.objectContaining({ revision: 2, outcome: 'marked-failed' })]);
    const after = await helm.history(o.release, o.namespace);
    expect(after.map((r) => [r.revision, r.status])).toEqual([
      [1, 'deployed'],
      [2, 'failed'],
    ]);
    expect(after[1]?.description).toMatch(/unlocked from stale 'pending-upgrade' state by helm-unstuck/);
    expect((await acts.unlockRelease(unlockInput(h, 'mark-failed'))).actions[0]?.outcome).toBe('already-unlocked');

    await ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver, backupName: res.actions[0]!.backupName });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
  });
});

describe.each([3, 4] as const)('helm v%i: the other stuck shapes', (major) => {
  const helm = helmFor(major);
  const ref = (o: { release: string; namespace: string }) => ({ cluster: CLUSTER, ...o });

  test('stacked pending: both pending revisions are removed, newest first', async () => {
    const o = { release: unique('web'), namespace: unique('s') };
    await makeStuck.stacked(helm, o);
    const h = await acts.readReleaseHistory(ref(o));
    expect(h.state).toMatchObject({ kind: 'Locked', stacked: true });
    const res = await acts.unlockRelease(unlockInput(h));
    expect(res.actions.map((a) => [a.revision, a.outcome])).toEqual([
      [3, 'deleted'],
      [2, 'deleted'],
    ]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 1 });
    await helm.ok(['upgrade', o.release, TINY_CHART, '-n', o.namespace]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
  });

  test('stacked pending with mark-failed: both marked failed, Helm upgrades past them', async () => {
    const o = { release: unique('web'), namespace: unique('sf') };
    await makeStuck.stacked(helm, o);
    const h = await acts.readReleaseHistory(ref(o));
    const res = await acts.unlockRelease(unlockInput(h, 'mark-failed'));
    expect(res.actions.map((a) => [a.revision, a.outcome])).toEqual([
      [3, 'marked-failed'],
      [2, 'marked-failed'],
    ]);
    expect((await helm.history(o.release, o.namespace)).map((r) => r.status)).toEqual(['deployed', 'failed', 'failed']);
    await helm.ok(['upgrade', o.release, TINY_CHART, '-n', o.namespace]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 4 });
  });

  test('stuck first install: removing it leaves no release, and a fresh install works', async () => {
    const o = { release: unique('web'), namespace: unique('i') };
    await makeStuck['pending-install'](helm, o);
    const h = await acts.readReleaseHistory(ref(o));
    expect(h.state).toMatchObject({ kind: 'Locked', firstInstall: true, pendingStatus: 'pending-install' });
    await acts.unlockRelease(unlockInput(h));
    expect(await acts.verifyRelease({ ...ref(o), expect: { absent: true } })).toMatchObject({ verified: true });
    expect(await helm.history(o.release, o.namespace)).toEqual([]);
    await helm.ok(['install', o.release, TINY_CHART, '-n', o.namespace]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 1 });
  });

  test('stuck rollback: the rollback revision is removed, the deployed one stays', async () => {
    const o = { release: unique('web'), namespace: unique('r') };
    await makeStuck['pending-rollback'](helm, o);
    const h = await acts.readReleaseHistory(ref(o));
    expect(h.state).toMatchObject({ kind: 'Locked', pendingStatus: 'pending-rollback' });
    await acts.unlockRelease(unlockInput(h));
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 2 });
  });

  test('a record helm changed after approval is not touched', async () => {
    const o = { release: unique('web'), namespace: unique('c') };
    await helm.ok(['install', o.release, TINY_CHART, '-n', o.namespace, '--create-namespace']);
    // A live upgrade, not a stuck one: helm gives up after its timeout and marks the revision failed.
    const live = helm.run(['upgrade', o.release, TINY_CHART, '-n', o.namespace, helm.waitFlag, '--timeout', '4s', '--set', 'tag=2.0.0']);
    const approval = await waitFor('the live upgrade read as Locked', () => acts.readReleaseHistory(ref(o)), (h) => h.state.kind === 'Locked', { timeoutMs: 60_000 });
    expect((await live).code).not.toBe(0);
    const before = await helm.history(o.release, o.namespace);
    expect(before.map((r) => r.status)).toEqual(['deployed', 'failed']);

    await expect(acts.unlockRelease(unlockInput(approval))).rejects.toMatchObject({
      type: 'ReleaseChanged',
      nonRetryable: true,
      message: expect.stringMatching(/changed since it was approved: resourceVersion \d+ → \d+, status pending-upgrade → failed; deleting nothing/),
    });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    expect(await backupsIn(o.namespace)).toEqual([]);
  });

  test('a newer revision above the approved one stops the unlock', async () => {
    const o = { release: unique('web'), namespace: unique('n') };
    await makeStuck['pending-upgrade'](helm, o);
    const approval = await acts.readReleaseHistory(ref(o));
    // Someone else rolls back meanwhile; helm writes revision 3 above the approved revision 2.
    await hangAndKill(helm, ['rollback', o.release, '1', '-n', o.namespace, helm.waitFlag], o.release, o.namespace, {
      revision: 3,
      status: 'pending-rollback',
    });
    const before = await helm.history(o.release, o.namespace);
    const onlyTop = { ...unlockInput(approval) };
    await expect(acts.unlockRelease(onlyTop)).rejects.toMatchObject({
      type: 'ReleaseChanged',
      message: expect.stringContaining('revision(s) 3 above the approved pending revision 2'),
    });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    expect(await backupsIn(o.namespace)).toEqual([]);
  });
});

describe('bad input changes nothing', () => {
  const helm: Helm = helmFor(3);
  test.each([
    ['an invalid release name', { release: 'Not_Valid' }, /not a valid Helm release name/],
    ['an invalid namespace', { namespace: 'UPPER' }, /not a valid Kubernetes namespace/],
    ['a cluster that is not configured (no kubeconfig context of that name is tried)', { cluster: 'nope' }, /^cluster "nope" is not configured$/],
    ['a record that is not the release revision', { objectName: 'sh.helm.release.v1.other.v2' }, /is not the record of/],
    ['an approval of a non-pending revision', { status: 'deployed' }, /not pending/],
    ['an unknown strategy', { strategy: 'rollback' }, /strategy must be "delete" or "mark-failed"/],
  ])('%s', async (_what, change, message) => {
    const o = { release: unique('web'), namespace: unique('b') };
    await makeStuck['pending-upgrade'](helm, o);
    const before = await helm.history(o.release, o.namespace);
    const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
    const input = unlockInput(h) as unknown as Record<string, unknown> & { approved: Record<string, unknown>[] };
    const c = change as Record<string, unknown>;
    for (const k of ['release', 'namespace', 'cluster', 'strategy']) if (k in c) input[k] = c[k];
    for (const k of ['objectName', 'status']) if (k in c) input.approved[0]![k] = c[k];
    await expect(acts.unlockRelease(input as never)).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(message) });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
    expect(await backupsIn(o.namespace)).toEqual([]);
  });
});

describe('restore puts back only the bytes that were backed up (the digest)', () => {
  const helm = helmFor(3);
  /** The backup, rewritten in place: same name, labels and annotations, another manifest in the payload. */
  async function rewrite(backup: StoredObject): Promise<void> {
    const payload = decodePayload(backup);
    const manifest = `${String(payload.manifest ?? '')}\n---\n# rewritten: not what was backed up\n`;
    const data = { ...backup.data, release: encodePayload(backup.kind, { ...payload, manifest }) };
    await kube.replaceRecord({ kind: backup.kind, name: backup.name, namespace: backup.namespace, labels: backup.labels, annotations: backup.annotations ?? {}, type: backup.type!, data }, backup.resourceVersion);
  }

  test.each(['delete', 'mark-failed'] as const)('%s: a backup whose data was rewritten is refused and the record is unchanged; the genuine one restores', async (strategy) => {
    const o = { release: unique('web'), namespace: unique('d') };
    await makeStuck['pending-upgrade'](helm, o);
    const before = await helm.history(o.release, o.namespace);
    const h = await acts.readReleaseHistory({ cluster: CLUSTER, ...o });
    const unlocked = await acts.unlockRelease(unlockInput(h, strategy));
    const { backupName, objectName } = unlocked.actions[0]!;
    const genuine = (await kube.getRecord('Secret', o.namespace, backupName))!;
    // The digest, on the backup and in the unlock's result (history): never the payload itself.
    expect(unlocked.actions[0]!.backupDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(genuine.annotations![BACKUP_ANNOTATIONS.digest]).toBe(unlocked.actions[0]!.backupDigest);
    const record = () => kube.getRecord('Secret', o.namespace, objectName);
    const recordBefore = await record();
    const helmBefore = await helm.history(o.release, o.namespace);

    await rewrite(genuine);
    const restore = () => ops.restoreRelease({ cluster: CLUSTER, namespace: o.namespace, driver: 'secret', backupName });
    await expect(restore()).rejects.toMatchObject({ type: 'BackupDigestMismatch', nonRetryable: true, message: expect.stringContaining('rewritten since it was taken') });
    expect(await record()).toEqual(recordBefore);
    expect(await helm.history(o.release, o.namespace)).toEqual(helmBefore);

    // The same backup, its bytes as they were: restored.
    const now = (await kube.getRecord('Secret', o.namespace, backupName))!;
    await kube.replaceRecord({ kind: 'Secret', name: backupName, namespace: o.namespace, labels: now.labels, annotations: now.annotations ?? {}, type: now.type!, data: genuine.data! }, now.resourceVersion);
    expect(await restore()).toMatchObject({ outcome: 'restored', revision: 2 });
    expect(await helm.history(o.release, o.namespace)).toEqual(before);
  });
});
