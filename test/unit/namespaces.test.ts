import { namespaceAllowed, namespaceRefusal, watchScopes, type NamespaceScope } from '../../decisions/namespaces';

// One row per situation an operator meets: the cluster's `namespaces`, the incident's namespace.
const rows: { name: string; cluster: NamespaceScope; namespace: string; allowed: boolean }[] = [
  { name: 'no list: every namespace', cluster: {}, namespace: 'gitlab', allowed: true },
  { name: 'no list, kube-system too', cluster: {}, namespace: 'kube-system', allowed: true },
  { name: 'listed', cluster: { namespaces: ['gitlab', 'monitoring'] }, namespace: 'monitoring', allowed: true },
  { name: 'not listed', cluster: { namespaces: ['gitlab', 'monitoring'] }, namespace: 'kube-system', allowed: false },
  { name: 'a prefix of a listed name is another namespace', cluster: { namespaces: ['gitlab'] }, namespace: 'git', allowed: false },
  { name: 'a listed name is not a prefix', cluster: { namespaces: ['git'] }, namespace: 'gitlab', allowed: false },
  { name: 'exact case only', cluster: { namespaces: ['gitlab'] }, namespace: 'GitLab', allowed: false },
  { name: 'no pattern matching', cluster: { namespaces: ['gitlab-*'] }, namespace: 'gitlab-runner', allowed: false },
  { name: 'an empty name is not listed', cluster: { namespaces: ['gitlab'] }, namespace: '', allowed: false },
  { name: "an Object.prototype name is not listed", cluster: { namespaces: ['gitlab'] }, namespace: 'constructor', allowed: false },
];

test.each(rows)('$name → $allowed', ({ cluster, namespace, allowed }) => {
  expect(namespaceAllowed(cluster, namespace)).toBe(allowed);
});

test('the refusal names the cluster, the namespace and the setting', () => {
  expect(namespaceRefusal('gprd', 'kube-system')).toBe('namespace "kube-system" is not among the namespaces allowed in cluster "gprd" (clusters.gprd.namespaces)');
});

// Where the detector lists and watches: one row per configuration an operator writes.
test.each<[string, NamespaceScope, (string | undefined)[]]>([
  ['no list: one cluster-wide watch (cluster mode, unchanged)', {}, [undefined]],
  ['one namespace: watched there only', { namespaces: ['gitlab'] }, ['gitlab']],
  ['several: each on its own, sorted', { namespaces: ['monitoring', 'gitlab'] }, ['gitlab', 'monitoring']],
  ['a name listed twice is watched once', { namespaces: ['gitlab', 'gitlab'] }, ['gitlab']],
])('watchScopes: %s', (_what, cluster, scopes) => {
  expect(watchScopes(cluster)).toEqual(scopes);
});
