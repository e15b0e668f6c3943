import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanTrace, parseDryRunTrace, TRACE_LIMITS } from '../../decisions/dry-run-diff';

const trace = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'traces', name), 'utf8');
// Job traces in the exact shapes helm-diff and helmfile print (their templates: helm-diff's
// diff/constant.go and diff/report.go, helmfile's pkg/app and pkg/helmexec), wrapped in GitLab's
// section markers and colours.
const helmDiff = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'helm-diff', name), 'utf8');
const webservice = { namespace: 'gitlab', name: 'gitlab-webservice-default', kind: 'Deployment', change: 'changed' };

describe('parseDryRunTrace', () => {
  test('helmfile, two releases, nothing affected (one object differs only in suppressed content): no-op', () => {
    const r = parseDryRunTrace(trace('helmfile-noop.txt'));
    expect(r.verdict).toBe('no-op');
    expect(r.releases.map((x) => [x.release, x.verdict])).toEqual([
      ['gitlab', 'no-op'],
      ['gitlab-cny', 'no-op'],
    ]);
    expect(r.releases[1]!.reason).toMatch(/1 object\(s\) differ only in suppressed content/);
  });

  test('helmfile with a changed Deployment and Secret in one of two releases: changes, listed per object', () => {
    const r = parseDryRunTrace(trace('helmfile-changes.txt'));
    expect(r.verdict).toBe('changes');
    expect(r.releases.map((x) => [x.release, x.verdict])).toEqual([
      ['gitlab', 'changes'],
      ['gitlab-cny', 'no-op'],
    ]);
    expect(r.releases[0]!.changes).toEqual([
      { namespace: 'gitlab', name: 'gitlab-webservice-default', kind: 'Deployment', change: 'changed' },
      { namespace: 'gitlab', name: 'gitlab-rails-secret', kind: 'Secret', change: 'changed' },
    ]);
    expect(r.reason).toMatch(/Deployment gitlab\/gitlab-webservice-default changed/);
  });

  test('helm-diff --output simple with a zero plan: no-op', () => {
    expect(parseDryRunTrace(trace('helm-diff-simple-noop.txt'))).toMatchObject({ verdict: 'no-op', reason: /Plan: 0 to add/ });
  });

  test('helm-diff that ran and printed nothing: no-op (that is how helm-diff says it)', () => {
    expect(parseDryRunTrace(trace('helm-diff-silent.txt'))).toMatchObject({ verdict: 'no-op', reason: /ran and printed no changes/ });
  });

  test('a trace with no sign a diff ran: could not tell, never no-op', () => {
    expect(parseDryRunTrace(trace('no-diff-ran.txt'))).toMatchObject({ verdict: 'unknown', reason: /could not tell/ });
    expect(parseDryRunTrace('')).toMatchObject({ verdict: 'unknown' });
  });

  test('a diff that errored: could not tell, with the error', () => {
    expect(parseDryRunTrace(trace('helm-diff-error.txt'))).toMatchObject({
      verdict: 'unknown',
      reason: /did not finish: Error: Kubernetes cluster unreachable/,
    });
  });

  test.each([
    ['Plan: 1 to add, 0 to change, 0 to destroy.', 'changes'],
    ['Plan: 0 to add, 0 to change, 0 to destroy, 2 to change ownership.', 'changes'],
    ['[]', 'no-op'],
    // Not a shape helm-diff prints (its JSON spans lines, see below); tolerated all the same.
    ['[{"api":"apps","kind":"Deployment","namespace":"gitlab","name":"web","change":"MODIFY"}]', 'changes'],
    ['[{\n  "api": "apps",\n  "kind": "Deployment",\n  "namespace": "gitlab",\n  "name": "web",\n  "change": "MODIFY"\n}]', 'changes'],
    ['[{\n  "api": "apps",\n  "kind": "Deployment",\n  "namespace": "gitlab",\n  "name": "web",\n  "change": "MODIFY_SUPPRESSED"\n}]', 'no-op'],
    ['gitlab, web, Deployment (apps) to be changed.', 'changes'],
    ['gitlab, web, Deployment (apps) has changed, but diff is empty after suppression.', 'no-op'],
    [', cluster-admin-x, ClusterRole (rbac.authorization.k8s.io) has been added:', 'changes'],
    ['Error: identified at least one change, exiting with non-zero exit code (detailed-exitcode parameter enabled)\nError: plugin "diff" exited with error', 'changes'],
    ['Error: plugin "diff" exited with error', 'unknown'],
    ['gitlab, gitlab-new, ConfigMap (v1) has been added:', 'changes'],
    ['gitlab, gitlab-old, Service (v1) has been removed:', 'changes'],
    ['gitlab, gitlab-sa, ServiceAccount (v1) changed ownership:', 'changes'],
  ])('%s → %s', (line, verdict) => {
    expect(parseDryRunTrace(`$ helm diff upgrade gitlab ./chart\n${line}\n`).verdict).toBe(verdict);
  });

  test('cleanTrace drops colours, erase-line codes and section markers', () => {
    expect(cleanTrace('section_start:1:x\r\x1b[0K\x1b[32;1mhello\x1b[0;m\r\nsection_end:2:x\r\x1b[0K')).toEqual(['hello', '']);
  });

  describe('what helm-diff and helmfile really print', () => {
    test.each([
      // [fixture, verdict, mode, objects (kind name change)]
      ['json-changes.txt', 'changes', 'two-way', ['Deployment gitlab-webservice-default changed', 'ConfigMap gitlab-webservice-extra added', 'CronJob gitlab-old-cleanup removed']],
      ['json-one-change.txt', 'changes', 'two-way', ['Deployment gitlab-webservice-default changed']],
      ['json-interleaved.txt', 'changes', 'two-way', ['Deployment gitlab-webservice-default changed', 'PodDisruptionBudget gitlab-webservice-v1 changed']],
      ['structured-changes.txt', 'changes', 'two-way', ['Deployment gitlab-webservice-default changed']],
      ['simple-changes.txt', 'changes', 'two-way', ['Deployment gitlab-webservice-default changed', 'ConfigMap gitlab-webservice-extra added']],
      ['suppress-secrets.txt', 'changes', 'two-way', ['Secret gitlab-rails-secret changed']],
      ['three-way-color.txt', 'changes', 'three-way', ['Deployment gitlab-webservice-default changed']],
      ['dyff-changes.txt', 'changes', 'two-way', []],
      ['helmfile-apply.txt', 'changes', 'unknown', []],
      ['json-empty.txt', 'no-op', 'two-way', []],
      ['three-way-silent.txt', 'no-op', 'three-way', []],
      ['dyff-silent.txt', 'unknown', 'two-way', []],
      ['plugin-error.txt', 'unknown', 'two-way', []],
    ] as const)('%s → %s (%s)', (name, verdict, mode, objects) => {
      const r = parseDryRunTrace(helmDiff(name));
      expect([r.verdict, r.mode]).toEqual([verdict, mode]);
      expect(r.releases.flatMap((x) => x.changes.map((c) => `${c.kind} ${c.name} ${c.change}`))).toEqual(objects);
    });

    test('multi-line JSON lists each object with its namespace, as the one-line form did', () => {
      const r = parseDryRunTrace(helmDiff('json-one-change.txt'));
      expect(r.releases).toEqual([expect.objectContaining({ verdict: 'changes', changes: [webservice] })]);
      expect(r.reason).toMatch(/would change 1 object\(s\): Deployment gitlab\/gitlab-webservice-default changed/);
    });

    test('--detailed-exitcode: helm\'s two error lines mean changes, not an unfinished diff', () => {
      const r = parseDryRunTrace(helmDiff('dyff-changes.txt'));
      expect(r.releases.map((x) => x.verdict)).toEqual(['changes']);
      expect(r.reason).toMatch(/identified at least one change/);
      expect(r.reason).not.toMatch(/did not finish/);
    });

    test('the reason says two-way, three-way or cannot tell, in a sentence', () => {
      expect(parseDryRunTrace(helmDiff('json-empty.txt')).reason).toMatch(/two-way.*not the live objects/);
      expect(parseDryRunTrace(helmDiff('three-way-silent.txt')).reason).toMatch(/three-way.*live objects/);
      expect(parseDryRunTrace(trace('helmfile-noop.txt'))).toMatchObject({ mode: 'unknown', reason: /helmfile's command line does not say/ });
      expect(parseDryRunTrace(trace('no-diff-ran.txt'))).toMatchObject({ mode: 'unknown', reason: /no helm diff command/ });
      expect(parseDryRunTrace('$ helm diff upgrade x ./c --three-way-merge=false\n').mode).toBe('two-way');
      expect(parseDryRunTrace('$ HELM_DIFF_THREE_WAY_MERGE=true helm diff upgrade x ./c\n').mode).toBe('three-way');
      // Set as a CI variable, it is not echoed; helm-diff says so on stderr.
      expect(parseDryRunTrace('$ helm diff upgrade x ./c\nEnabled three way merge via the envvar\n').mode).toBe('three-way');
    });

    test('helmfile apply: the affected release changes, the other does not', () => {
      expect(parseDryRunTrace(helmDiff('helmfile-apply.txt')).releases.map((x) => [x.release, x.verdict])).toEqual([
        ['gitlab', 'changes'],
        ['gitlab-cny', 'no-op'],
      ]);
    });

    test('a JSON array that never closes cannot be read: unknown, never no-op', () => {
      const cut = helmDiff('json-changes.txt').split('\n').filter((l) => !l.startsWith('  "change"') && !l.startsWith('Error:')).join('\n');
      expect(parseDryRunTrace(cut)).toMatchObject({ verdict: 'unknown', reason: /JSON diff began but could not be read/ });
    });

    test('a job log GitLab cut short is unknown, even when what is left looks quiet', () => {
      const cut = `${helmDiff('three-way-silent.txt')}\nJob's log exceeded limit of 4194304 bytes.\nJob execution will continue but no more output will be collected.\n`;
      expect(parseDryRunTrace(cut)).toMatchObject({ verdict: 'unknown', reason: /cut the job log short/ });
    });
  });

  describe('hostile traces', () => {
    test('a trace over the size cap is not read: unknown, saying why', () => {
      const big = `$ helm diff upgrade x ./c\n${'a'.repeat(1000)}\n`.repeat(Math.ceil(TRACE_LIMITS.maxChars / 1000));
      expect(parseDryRunTrace(big)).toMatchObject({ verdict: 'unknown', mode: 'unknown', releases: [], reason: /over the 16777216-character cap/ });
    });

    test('a line over the line cap makes the verdict unknown, saying which line, and what was read before', () => {
      const r = parseDryRunTrace(`$ helm diff upgrade x ./c\n${'x'.repeat(TRACE_LIMITS.maxLineChars + 1)}\n`);
      expect(r).toMatchObject({ verdict: 'unknown', reason: /line 2 is 262145 characters, over the 262144-character cap \(read so far: no-op/ });
    });

    test('a line just under the cap is read', () => {
      expect(parseDryRunTrace(`$ helm diff upgrade x ./c\n${'x'.repeat(TRACE_LIMITS.maxLineChars)}\n`).verdict).toBe('no-op');
    });

    test('objects past the listing cap are counted, not listed', () => {
      const n = TRACE_LIMITS.maxListedObjects + 5;
      const lines = Array.from({ length: n }, (_, i) => `gitlab, cm-${i}, ConfigMap (v1) has been added:`);
      const r = parseDryRunTrace(`$ helm diff upgrade x ./c\n${lines.join('\n')}\n`);
      expect(r.releases[0]).toMatchObject({ verdict: 'changes', omitted: 5 });
      expect(r.releases[0]!.changes).toHaveLength(TRACE_LIMITS.maxListedObjects);
      expect(r.reason).toMatch(/would change 205 object\(s\).* and 5 more/);
    });

    test('names from the trace are cut to a Kubernetes name\'s length', () => {
      const r = parseDryRunTrace(`$ helm diff upgrade x ./c\ngitlab, ${'n'.repeat(5000)}, ConfigMap (v1) has been added:\n`);
      expect(r.releases[0]!.changes[0]!.name.length).toBeLessThanOrEqual(TRACE_LIMITS.maxNameChars + 1);
    });
  });
});
