// The fleet view: one table over every cluster, a row per stuck release, one row for a quiet
// cluster and one row saying why for a cluster that could not be scanned.
import type { ScanResult, StuckReleaseSummary } from '../../activities/release';
import { errorCell, fleetTable, scanTable, type FleetEntry } from '../../cli/scan-format';

const stuck = (o: Partial<StuckReleaseSummary> & Pick<StuckReleaseSummary, 'namespace' | 'release' | 'revision'>): StuckReleaseSummary => ({
  driver: 'secret',
  status: 'pending-upgrade',
  objectName: `sh.helm.release.v1.${o.release}.v${o.revision}`,
  pendingForMs: 7 * 60_000,
  stacked: false,
  firstInstall: false,
  pendingRevisions: [o.revision],
  lastDeployedRevision: o.revision - 1,
  reason: 'stuck',
  ...o,
});
const result = (cluster: string, s: StuckReleaseSummary[], unreadable: ScanResult['unreadable'] = []): ScanResult => ({
  cluster,
  namespace: null,
  observedAt: '2026-11-25T00:00:00.000Z',
  stuck: s,
  unreadable,
});
const cells = (table: string) => table.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));

test('one table over the fleet: a CLUSTER column, every cluster accounted for, errors as rows', () => {
  const entries: FleetEntry[] = [
    { cluster: 'gprd', result: result('gprd', [stuck({ namespace: 'gitlab', release: 'gitlab', revision: 1235 }), stuck({ namespace: 'registry', release: 'registry', revision: 3, status: 'pending-rollback', stacked: true, pendingRevisions: [3, 2], lastDeployedRevision: 1 })]) },
    { cluster: 'gstg', result: result('gstg', []) },
    { cluster: 'ops', error: 'connect ECONNREFUSED 127.0.0.1:6443\n    at TCPConnectWrap.afterConnect' },
    { cluster: 'pre', result: result('pre', [stuck({ namespace: 'web', release: 'web', revision: 2, pendingForMs: undefined, firstInstall: true, status: 'pending-install', lastDeployedRevision: undefined })], [{ object: 'Secret web/x', reason: 'not gzip' }]) },
  ];
  expect(cells(fleetTable(entries))).toEqual([
    ['CLUSTER', 'NAMESPACE', 'RELEASE', 'REVISION', 'STATUS', 'PENDING FOR', 'DEPLOYED', 'DRIVER', 'NOTE'],
    ['gprd', 'gitlab', 'gitlab', '1235', 'pending-upgrade', '7m', '1234', 'secret'],
    ['gprd', 'registry', 'registry', '3', 'pending-rollback', '7m', '1', 'secret', 'stacked: 3,2'],
    ['gstg', '-', '-', '-', '-', '-', '-', '-', 'no stuck releases'],
    ['ops', '-', '-', '-', '-', '-', '-', '-', 'ERROR: connect ECONNREFUSED 127.0.0.1:6443'],
    ['pre', 'web', 'web', '2', 'pending-install', '?', '-', 'secret', 'first install; 1 unreadable records, see -o json'],
    ['4 clusters: 3 stuck releases, 1 cluster could not be scanned.'],
  ]);
  // Columns line up: every note starts where the header's NOTE does.
  const lines = fleetTable(entries).split('\n');
  const note = lines[0]!.indexOf('NOTE');
  const withNotes = lines.slice(1, 6).filter((l) => l.length > note);
  expect(withNotes).toHaveLength(4);
  expect(withNotes.every((l) => l[note - 1] === ' ' && l[note] !== ' ')).toBe(true);
});

test('a fleet with nothing stuck and nothing failed says so in its summary', () => {
  expect(fleetTable([{ cluster: 'a', result: result('a', []) }])).toBe(
    'CLUSTER  NAMESPACE  RELEASE  REVISION  STATUS  PENDING FOR  DEPLOYED  DRIVER  NOTE\n' +
      'a        -          -        -         -       -            -         -       no stuck releases\n' +
      '1 cluster: 0 stuck releases.\n',
  );
});

test.each([
  ['first non-empty line only', '\n  socket hang up\n  at x', 'socket hang up'],
  ['capped for a table cell', 'x'.repeat(500), `${'x'.repeat(159)}…`],
  ['never empty', '  \n', 'unknown error'],
])('an error cell is short: %s', (_, message, cell) => {
  expect(errorCell(message)).toBe(cell);
});

test('the one-cluster table is unchanged: no CLUSTER column', () => {
  expect(cells(scanTable(result('gprd', [stuck({ namespace: 'gitlab', release: 'gitlab', revision: 5 })])))[0]![0]).toBe('NAMESPACE');
});
