import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanTrace, parseDryRunTrace } from '../../decisions/dry-run-diff';

const trace = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'traces', name), 'utf8');

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
    ['[{"api":"apps","kind":"Deployment","namespace":"gitlab","name":"web","change":"MODIFY"}]', 'changes'],
    ['gitlab, gitlab-new, ConfigMap (v1) has been added:', 'changes'],
    ['gitlab, gitlab-old, Service (v1) has been removed:', 'changes'],
    ['gitlab, gitlab-sa, ServiceAccount (v1) changed ownership:', 'changes'],
  ])('%s → %s', (line, verdict) => {
    expect(parseDryRunTrace(`$ helm diff upgrade gitlab ./chart\n${line}\n`).verdict).toBe(verdict);
  });

  test('cleanTrace drops colours, erase-line codes and section markers', () => {
    expect(cleanTrace('section_start:1:x\r\x1b[0K\x1b[32;1mhello\x1b[0;m\r\nsection_end:2:x\r\x1b[0K')).toEqual(['hello', '']);
  });
});
