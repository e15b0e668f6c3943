// The incident itself, made with real helm v3 and v4 against the real API server.
import { helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import { makeStuck } from './stuck';

const IN_PROGRESS = 'another operation (install/upgrade/rollback) is in progress';


describe.each([3, 4] as const)('helm v%i', (major) => {
  const helm = helmFor(major);

  test('is the pinned major version', async () => {
    expect(await helm.ok(['version', '--template', '{{.Version}}'])).toMatch(new RegExp(`^v${major}\\.`));
  });

  test('an interrupted upgrade leaves N+1 pending-upgrade and blocks the next upgrade', async () => {
    const o = { release: unique('web'), namespace: unique('up') };
    const s = await makeStuck['pending-upgrade'](helm, { ...o, upgradesBefore: 1 });
    expect(s).toMatchObject({ pendingRevision: 3, pendingStatus: 'pending-upgrade', deployedRevision: 2 });

    const list = await helm.list(o.namespace);
    expect(list).toEqual([expect.objectContaining({ name: o.release, revision: '3', status: 'pending-upgrade' })]);
    expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'pending-upgrade', revision: 3 });

    const next = await helm.run(['upgrade', o.release, TINY_CHART, '-n', o.namespace, '--set', 'tag=3.0.0']);
    expect(next.code).not.toBe(0);
    expect(next.stderr).toContain(IN_PROGRESS);
    // Nothing was written by the refused upgrade.
    expect((await helm.history(o.release, o.namespace)).map((r) => r.status)).toEqual([
      'superseded',
      'deployed',
      'pending-upgrade',
    ]);
  });

  test('an interrupted first install is stuck pending-install at revision 1', async () => {
    const o = { release: unique('web'), namespace: unique('in') };
    const s = await makeStuck['pending-install'](helm, o);
    expect(s).toMatchObject({ pendingRevision: 1, pendingStatus: 'pending-install', deployedRevision: undefined });
    const again = await helm.run(['upgrade', '--install', o.release, TINY_CHART, '-n', o.namespace]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(IN_PROGRESS);
  });

  test('an interrupted rollback is stuck pending-rollback', async () => {
    const o = { release: unique('web'), namespace: unique('rb') };
    const s = await makeStuck['pending-rollback'](helm, o);
    expect(s.history.map((r) => [r.revision, r.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
      [3, 'pending-rollback'],
    ]);
    const next = await helm.run(['upgrade', o.release, TINY_CHART, '-n', o.namespace]);
    expect(next.stderr).toContain(IN_PROGRESS);
  });

  test('a pending-rollback can stack on a pending-upgrade', async () => {
    const o = { release: unique('web'), namespace: unique('st') };
    const s = await makeStuck.stacked(helm, o);
    expect(s.history.map((r) => [r.revision, r.status])).toEqual([
      [1, 'deployed'],
      [2, 'pending-upgrade'],
      [3, 'pending-rollback'],
    ]);
  });

  test('the configmap driver gets stuck the same way', async () => {
    const cm = helm.withDriver('configmap');
    const o = { release: unique('web'), namespace: unique('cm') };
    const s = await makeStuck['pending-upgrade'](cm, o);
    expect(s).toMatchObject({ pendingRevision: 2, pendingStatus: 'pending-upgrade', deployedRevision: 1 });
    // The secret driver sees no release at all: the records really are ConfigMaps.
    expect(await helm.history(o.release, o.namespace)).toEqual([]);
  });
});
