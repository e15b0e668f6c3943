// The visibility query behind `helm-unstuck list`, the approval page's list and the repeat check:
// one row per filter an operator uses, and values that try to be more query stay one literal.
import { incidentsQuery, queryLiteral, SEARCH_ATTRIBUTE_KEYS } from '../../decisions/incident-search';
import { listFilter } from '../../cli/list-command';

const ALL = "WorkflowType = 'remediateStuckRelease'";

test.each([
  ['no filter: every incident', {}, ALL],
  ['running ones (the approval page)', { running: true }, `${ALL} AND ExecutionStatus = 'Running'`],
  ['ended ones', { running: false }, `${ALL} AND ExecutionStatus != 'Running'`],
  ['a cluster, waiting for a human', { cluster: 'gprd', waiting: true }, `${ALL} AND HelmUnstuckCluster = 'gprd' AND HelmUnstuckAwaitingHuman = true`],
  ['not waiting', { waiting: false }, `${ALL} AND HelmUnstuckAwaitingHuman = false`],
  ['an outcome', { outcome: 'needs-review' as const }, `${ALL} AND HelmUnstuckOutcome = 'needs-review'`],
  [
    'one release since a time, this run left out (the repeat check)',
    { cluster: 'c', namespace: 'ns', release: 'web', startedSince: '2026-12-01T00:00:00.000Z', exceptRun: 'r-1' },
    `${ALL} AND HelmUnstuckCluster = 'c' AND HelmUnstuckNamespace = 'ns' AND HelmUnstuckRelease = 'web' AND StartTime >= '2026-12-01T00:00:00.000Z' AND RunId != 'r-1'`,
  ],
  ['one workflow id (the release page)', { workflowId: 'helm-unstuck/c/ns/web' }, `${ALL} AND WorkflowId = 'helm-unstuck/c/ns/web'`],
  ['a release name with a quote stays one literal', { release: "x' OR HelmUnstuckCluster != '" }, `${ALL} AND HelmUnstuckRelease = 'x\\' OR HelmUnstuckCluster != \\''`],
  ['a backslash cannot end the literal early', { release: "a\\' OR 1=1 OR 'b" }, `${ALL} AND HelmUnstuckRelease = 'a\\\\\\' OR 1=1 OR \\'b'`],
])('%s', (_, filter, query) => {
  expect(incidentsQuery(filter)).toBe(query);
});

test.each([
  ['plain', 'web', "'web'"],
  ['single quote', "it's", "'it\\'s'"],
  ['double quote', 'say "x"', "'say \\\"x\\\"'"],
  ['backslash then quote', "\\'", "'\\\\\\''"],
])('queryLiteral: %s', (_, value, literal) => {
  expect(queryLiteral(value)).toBe(literal);
  // Inside the literal every quote is escaped: no unescaped quote but the two that delimit it.
  expect(literal.slice(1, -1).replace(/\\./g, '')).not.toMatch(/['"]/);
});

test.each([
  ['running ones by default', { output: 'text' }, { running: true }],
  ['--all: ended ones too', { all: true, output: 'text' }, {}],
  ['--outcome lists ended ones without --all', { outcome: 'needs-investigation', output: 'text' }, { outcome: 'needs-investigation' }],
  ['--cluster C --waiting', { cluster: 'C', waiting: true, output: 'text' }, { cluster: 'C', waiting: true, running: true }],
])('list options: %s', (_, o, filter) => {
  expect(listFilter(o)).toEqual(filter);
});

test('an outcome that does not exist is bad usage, naming the real ones', () => {
  expect(() => listFilter({ outcome: 'needs-reveiw', output: 'text' })).toThrow(/--outcome "needs-reveiw" is not an outcome \(unstuck-and-verified, nothing-to-do, rejected, aborted, needs-investigation, needs-review, failed\)/);
});

test('the search attributes have one name each, all helm-unstuck’s', () => {
  const names = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names).toEqual(['HelmUnstuckCluster', 'HelmUnstuckNamespace', 'HelmUnstuckRelease', 'HelmUnstuckStep', 'HelmUnstuckOutcome', 'HelmUnstuckAwaitingHuman']);
});
