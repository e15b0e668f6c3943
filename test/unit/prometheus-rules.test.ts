// The shipped Prometheus rules: written files equal what deploy/prometheus/rules.ts generates,
// Prometheus' own promtool accepts them, and their unit tests (deploy/prometheus/tests) pass:
// each rule fires, stays quiet below the minimum age, and resolves.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { shippedFiles } from '../../deploy/prometheus/rules';

const DIR = join(__dirname, '..', '..', 'deploy', 'prometheus');
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';
const AMTOOL = process.env.AMTOOL_BIN ?? '/usr/bin/amtool';
const run = (bin: string, args: string[]) => execFileSync(bin, args, { cwd: DIR, encoding: 'utf8', stdio: 'pipe' });

test.each(Object.entries(shippedFiles()))('%s is what rules.ts generates (run: npx tsx deploy/prometheus/rules.ts)', (name, text) => {
  expect(readFileSync(join(DIR, name), 'utf8')).toBe(text);
});

test('the PrometheusRule manifests hold exactly the plain rules files\' groups', () => {
  for (const base of ['helm-unstuck', 'helm-unstuck-kube-state-metrics']) {
    const plain = parse(readFileSync(join(DIR, `${base}.rules.yml`), 'utf8')) as { groups: unknown };
    const manifest = parse(readFileSync(join(DIR, `${base}.prometheusrule.yaml`), 'utf8')) as { spec: { groups: unknown } };
    expect(manifest.spec.groups).toEqual(plain.groups);
  }
});

test('promtool check rules accepts every rules file', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.rules.yml'));
  expect(files).toHaveLength(2);
  expect(run(PROMTOOL, ['check', 'rules', ...files])).toContain('SUCCESS');
});

test('promtool test rules: every rule fires, stays quiet below the minimum age, and resolves', () => {
  const tests = readdirSync(join(DIR, 'tests')).filter((f) => f.endsWith('.test.yml')).map((f) => join('tests', f));
  expect(tests).toHaveLength(2);
  try {
    run(PROMTOOL, ['test', 'rules', ...tests]);
  } catch (err) {
    throw new Error(`promtool test rules failed:\n${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`);
  }
});

test('amtool accepts the example Alertmanager route and receiver', () => {
  expect(run(AMTOOL, ['check-config', 'alertmanager-example.yml'])).toContain('SUCCESS');
});
