import { stuckReleases, type PendingRecordFacts } from '../../decisions/pending-releases';

const rec = (namespace: string, labels: Record<string, string>, createdSeconds = 1_700_000_000): PendingRecordFacts => ({ namespace, labels, createdSeconds });
const helm = (name: string, version: string, status: string, extra: Record<string, string> = {}) => ({ owner: 'helm', name, version, status, ...extra });

test.each([
  ['nothing pending', [], []],
  [
    'one pending-upgrade: its revision, status and createdAt',
    [rec('gitlab', helm('gitlab', '7', 'pending-upgrade', { createdAt: '1700000100' }))],
    [{ namespace: 'gitlab', release: 'gitlab', revision: 7, status: 'pending-upgrade', sinceSeconds: 1700000100 }],
  ],
  [
    'stacked pending revisions are one release: the newest revision, the oldest start',
    [rec('gitlab', helm('gitlab', '7', 'pending-upgrade', { createdAt: '100' })), rec('gitlab', helm('gitlab', '8', 'pending-rollback', { createdAt: '200' }))],
    [{ namespace: 'gitlab', release: 'gitlab', revision: 8, status: 'pending-rollback', sinceSeconds: 100 }],
  ],
  [
    'same release name in two namespaces: two releases',
    [rec('a', helm('web', '1', 'pending-install', { createdAt: '5' })), rec('b', helm('web', '2', 'pending-upgrade', { createdAt: '6' }))],
    [
      { namespace: 'a', release: 'web', revision: 1, status: 'pending-install', sinceSeconds: 5 },
      { namespace: 'b', release: 'web', revision: 2, status: 'pending-upgrade', sinceSeconds: 6 },
    ],
  ],
  [
    'no createdAt: modifiedAt, else the API server\'s creation time',
    [rec('x', helm('m', '2', 'pending-upgrade', { modifiedAt: '42' })), rec('y', helm('c', '3', 'pending-upgrade'), 77)],
    [
      { namespace: 'x', release: 'm', revision: 2, status: 'pending-upgrade', sinceSeconds: 42 },
      { namespace: 'y', release: 'c', revision: 3, status: 'pending-upgrade', sinceSeconds: 77 },
    ],
  ],
  [
    'not Helm\'s, not pending, or without a name or a numeric revision: ignored',
    [
      rec('x', { ...helm('a', '1', 'pending-upgrade'), owner: 'someone' }),
      rec('x', helm('b', '1', 'deployed')),
      rec('x', helm('', '1', 'pending-upgrade')),
      rec('x', helm('d', 'v1', 'pending-upgrade')),
    ],
    [],
  ],
])('%s', (_name, records, want) => {
  expect(stuckReleases(records)).toEqual(want);
});
