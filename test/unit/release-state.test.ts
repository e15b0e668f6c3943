import { determineReleaseState, type ReleaseStateKind } from '../../decisions/release-state';
import type { RevisionRecord } from '../../decisions/helm';
import { minutesAgo, NOW, rev } from './revisions';


// history (any order) → expected state. Each row is one situation an operator can meet.
const table: {
  name: string;
  history: RevisionRecord[];
  kind: ReleaseStateKind;
  pending?: number[];
  lastDeployed?: number;
  stacked?: boolean;
  firstInstall?: boolean;
  pendingForMs?: number;
  buried?: number[];
  reason: RegExp;
}[] = [
  { name: 'no records', history: [], kind: 'Absent', pending: [], reason: /no record/ },
  {
    name: 'deployed on top',
    history: [rev(1, 'superseded'), rev(2, 'deployed')],
    kind: 'Unlocked',
    pending: [],
    lastDeployed: 2,
    reason: /not stuck; the newest revision 2 is deployed/,
  },
  {
    name: 'failed on top is not a lock',
    history: [rev(1, 'deployed'), rev(2, 'failed')],
    kind: 'Unlocked',
    lastDeployed: 1,
    reason: /newest revision 2 is failed/,
  },
  {
    name: 'the runbook case: N deployed, N+1 pending-upgrade',
    history: [rev(1233, 'superseded'), rev(1234, 'deployed'), rev(1235, 'pending-upgrade', 17)],
    kind: 'Locked',
    pending: [1235],
    lastDeployed: 1234,
    stacked: false,
    firstInstall: false,
    pendingForMs: 17 * 60_000,
    reason: /revision 1235 has been pending-upgrade for 17m; revision 1234 is the last deployed/,
  },
  {
    name: 'history given out of order',
    history: [rev(3, 'pending-upgrade', 5), rev(1, 'superseded'), rev(2, 'deployed')],
    kind: 'Locked',
    pending: [3],
    lastDeployed: 2,
    reason: /revision 3 has been pending-upgrade for 5m/,
  },
  {
    name: 'stuck first install',
    history: [rev(1, 'pending-install', 30)],
    kind: 'Locked',
    pending: [1],
    firstInstall: true,
    reason: /first install: removing it leaves no release/,
  },
  {
    name: 'stuck rollback',
    history: [rev(1, 'superseded'), rev(2, 'deployed'), rev(3, 'pending-rollback', 2)],
    kind: 'Locked',
    pending: [3],
    lastDeployed: 2,
    reason: /revision 3 has been pending-rollback for 2m/,
  },
  {
    name: 'stacked: pending-rollback on pending-upgrade',
    history: [rev(1, 'deployed'), rev(2, 'pending-upgrade', 40), rev(3, 'pending-rollback', 20)],
    kind: 'Locked',
    pending: [3, 2],
    lastDeployed: 1,
    stacked: true,
    pendingForMs: 20 * 60_000,
    reason: /2 stacked pending revisions 3 \(pending-rollback\), 2 \(pending-upgrade\), the newest pending for 20m/,
  },
  {
    name: 'stacked on a first install',
    history: [rev(1, 'pending-install'), rev(2, 'pending-upgrade', 1)],
    kind: 'Locked',
    pending: [2, 1],
    stacked: true,
    firstInstall: true,
    reason: /first install/,
  },
  {
    name: 'an old pending revision buried under a newer one is not a lock',
    history: [rev(1, 'superseded'), rev(2, 'pending-upgrade'), rev(3, 'deployed')],
    kind: 'Unlocked',
    lastDeployed: 3,
    buried: [2],
    reason: /not stuck; the newest revision 3 is deployed\. Revision 2 \(pending-upgrade\) is still pending below a newer revision: an operation that never finished, buried \(by someone's rollback or deploy over the lock\?\); it holds no lock and is left as it is\.$/,
  },
  {
    name: "someone's rollback over a stuck upgrade: the stuck revision stays pending, buried, and is named",
    history: [rev(1, 'superseded'), rev(2, 'superseded'), rev(3, 'pending-upgrade'), rev(4, 'deployed', 1)],
    kind: 'Unlocked',
    lastDeployed: 4,
    buried: [3],
    reason: /newest revision 4 is deployed\. Revision 3 \(pending-upgrade\) is still pending below/,
  },
  {
    name: 'two buried below a new lock: the lock is judged, the buried ones named',
    history: [rev(1, 'deployed'), rev(2, 'pending-install'), rev(3, 'pending-upgrade'), rev(4, 'superseded'), rev(5, 'deployed'), rev(6, 'pending-upgrade', 10)],
    kind: 'Locked',
    pending: [6],
    lastDeployed: 5,
    buried: [3, 2],
    reason: /revision 6 has been pending-upgrade for 10m; revision 5 is the last deployed\. Revisions 3 \(pending-upgrade\), 2 \(pending-install\) are still pending below a newer revision: .*; they hold no lock and are left as they are\.$/,
  },
  {
    name: 'locked with nothing deployed underneath (the last upgrade failed)',
    history: [rev(1, 'superseded'), rev(2, 'failed'), rev(3, 'pending-upgrade', 3)],
    kind: 'Locked',
    pending: [3],
    reason: /no deployed revision lies underneath \(newest settled: 2 failed\)/,
  },
];

describe('determineReleaseState', () => {
  test.each(table)('$name', (row) => {
    const s = determineReleaseState('gitlab', 'gitlab', row.history, NOW);
    expect(s.kind).toBe(row.kind);
    expect(s.reason).toMatch(row.reason);
    if (row.pending) expect(s.pending.map((r) => r.revision)).toEqual(row.pending);
    expect(s.lastDeployed?.revision).toBe(row.lastDeployed);
    if (row.stacked !== undefined) expect(s.stacked).toBe(row.stacked);
    if (row.firstInstall !== undefined) expect(s.firstInstall).toBe(row.firstInstall);
    if (row.pendingForMs !== undefined) expect(s.pendingForMs).toBe(row.pendingForMs);
    expect(s.buriedPending).toEqual(row.buried ?? []);
  });

  test('pending age prefers modifiedAt, then createdAt, then the payload time', () => {
    const r = { ...rev(2, 'pending-upgrade'), createdAt: minutesAgo(50), modifiedAt: minutesAgo(10) };
    expect(determineReleaseState('gitlab', 'gitlab', [rev(1, 'deployed'), r], NOW).pendingForMs).toBe(600_000);
    const payloadOnly = { ...rev(2, 'pending-upgrade'), createdAt: undefined, lastDeployed: minutesAgo(3) };
    expect(determineReleaseState('gitlab', 'gitlab', [rev(1, 'deployed'), payloadOnly], NOW).pendingForMs).toBe(180_000);
    const unknown = { ...rev(2, 'pending-upgrade'), createdAt: undefined };
    const s = determineReleaseState('gitlab', 'gitlab', [rev(1, 'deployed'), unknown], NOW);
    expect(s.pendingForMs).toBeUndefined();
    expect(s.reason).toContain('for an unknown time');
  });
});
