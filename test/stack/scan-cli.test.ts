// `helm-unstuck scan` over a kubeconfig, as an SRE runs it.
import { main, EXIT } from '../../cli/main';
import { helmFor, unique } from './fixtures';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';
import { TINY_CHART } from './helm';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), env: process.env });
  return { code, out, err };
}

test('lists stuck releases as a table and as JSON, and not the healthy ones', async () => {
  const namespace = unique('scan');
  const helm = helmFor(3);
  await makeStuck['pending-upgrade'](helm, { release: 'stuck-one', namespace });
  await makeStuck.stacked(helm, { release: 'stuck-two', namespace });
  await helm.ok(['install', 'fine', TINY_CHART, '-n', namespace]);
  const kubeconfig = sharedStack().kubeconfig;

  const table = await cli('scan', '--kubeconfig', kubeconfig, '-n', namespace);
  expect(table.code).toBe(EXIT.ok);
  const lines = table.out.trim().split('\n');
  expect(lines[0]).toMatch(/^NAMESPACE\s+RELEASE\s+REVISION\s+STATUS\s+PENDING FOR\s+DEPLOYED\s+DRIVER\s+NOTE$/);
  expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
    [namespace, 'stuck-one', '2', 'pending-upgrade', expect.stringMatching(/^\d+s$/), '1', 'secret'],
    [namespace, 'stuck-two', '3', 'pending-rollback', expect.stringMatching(/^\d+s$/), '1', 'secret', 'stacked: 3,2'],
  ]);

  const json = await cli('scan', '--kubeconfig', kubeconfig, '-n', namespace, '-o', 'json', '--fail-if-stuck');
  expect(json.code).toBe(EXIT.stuckFound);
  const parsed = JSON.parse(json.out) as { stuck: { release: string; pendingRevisions: number[] }[] };
  expect(parsed.stuck.map((s) => [s.release, s.pendingRevisions])).toEqual([
    ['stuck-one', [2]],
    ['stuck-two', [3, 2]],
  ]);

  // Across all namespaces, these two are among what it finds.
  const all = JSON.parse((await cli('scan', '--kubeconfig', kubeconfig, '-o', 'json')).out) as { stuck: { namespace: string }[] };
  expect(all.stuck.filter((s) => s.namespace === namespace)).toHaveLength(2);
});

test('an empty namespace says so', async () => {
  const r = await cli('scan', '--kubeconfig', sharedStack().kubeconfig, '-n', unique('empty'), '--fail-if-stuck');
  expect(r).toMatchObject({ code: EXIT.ok, out: expect.stringMatching(/^No stuck Helm releases in namespace empty-\w+ of admin\.\n$/) });
});

test.each([
  [['scan', '--driver', 'sql'], EXIT.usage, /helm-unstuck scan: option '--driver <driver>' argument 'sql' is invalid\. Allowed choices are secret, configmap, all/],
  [['scan', '--bogus'], EXIT.usage, /helm-unstuck scan: unknown option '--bogus'/],
  [['scan', '--context', 'nope'], EXIT.error, /kubeconfig has no context "nope" \(known: admin\)/],
  [['scan', '-n', 'Not_A_Namespace'], EXIT.error, /namespace "Not_A_Namespace" is not a valid Kubernetes namespace name/],
  [['frobnicate'], EXIT.usage, /helm-unstuck: unknown command 'frobnicate'/],
])('%j exits %i with a clear error', async (argv, code, message) => {
  const r = await cli(...argv, ...(argv[0] === 'scan' ? ['--kubeconfig', sharedStack().kubeconfig] : []));
  expect(r.code).toBe(code);
  expect(r.err).toMatch(message);
});
