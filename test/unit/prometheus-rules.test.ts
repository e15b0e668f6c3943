// The shipped Prometheus rules: written files equal what deploy/prometheus/rules.ts generates,
// Prometheus' own promtool accepts them, and their unit tests (deploy/prometheus/tests) pass:
// each rule fires, stays quiet below the minimum age, and resolves.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_EXTERNAL_URL, DEFAULTS, detectorRules, kubeStateMetricsRules, ownFiles, shippedFiles } from '../../deploy/prometheus/rules';

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

describe('incident_url: the release\'s page on serve\'s external URL', () => {
  const stuckAnnotations = (groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[]) => groups[0]!.rules.find((r) => r.alert === 'HelmReleaseStuck')!.annotations!;

  test('both HelmReleaseStuck rules link to <externalUrl>/releases/<cluster>/<namespace>/<release>, each label escaped', () => {
    const o = { ...DEFAULTS, externalUrl: 'https://hu.example.net/ops/' };
    const want = 'https://hu.example.net/ops/releases/{{ $labels.cluster | urlquery }}/{{ $labels.namespace | urlquery }}/{{ $labels.label_name | urlquery }}';
    expect(stuckAnnotations(detectorRules(o).groups).incident_url).toBe(want);
    expect(stuckAnnotations(kubeStateMetricsRules(o).groups).incident_url).toBe(want);
    // Your own files (--external-url URL --out DIR): the rules and manifests, not the Alertmanager example.
    expect(Object.keys(ownFiles(o)).sort()).toEqual(['helm-unstuck-kube-state-metrics.prometheusrule.yaml', 'helm-unstuck-kube-state-metrics.rules.yml', 'helm-unstuck.prometheusrule.yaml', 'helm-unstuck.rules.yml']);
    expect(ownFiles(o)['helm-unstuck.rules.yml']).toContain(`incident_url: ${want}\n`);
  });

  test('no externalUrl: no incident_url (no link rather than one to nowhere)', () => {
    const { externalUrl: _, ...without } = DEFAULTS;
    expect(Object.keys(stuckAnnotations(detectorRules(without).groups))).toEqual(['summary', 'description', 'runbook_url']);
  });

  test.each([
    ['helm-unstuck.example.net', 'is not a URL'],
    ['ftp://hu.example.net', 'must be an http or https URL'],
    ['https://hu.example.net/{{ $value }}', 'must not contain braces'],
    ['https://hu.example.net/?x=1', 'must not have a query or fragment'],
    [`https://hu.example.net/${'a'.repeat(5000)}`, 'is longer than 2048 characters'],
  ])('an externalUrl of %j is refused: %s', (externalUrl, why) => {
    expect(() => detectorRules({ ...DEFAULTS, externalUrl })).toThrow(why);
  });

  test('the chart\'s template replaces exactly the placeholder its copy of the rules carries', () => {
    const template = readFileSync(join(DIR, '..', 'chart', 'helm-unstuck', 'templates', 'prometheusrule.yaml'), 'utf8');
    expect(template).toContain(`$placeholder := "${CHART_EXTERNAL_URL}"`);
    const copy = readFileSync(join(DIR, '..', 'chart', 'helm-unstuck', 'files', 'helm-unstuck.rules.yml'), 'utf8');
    expect(copy).toContain(`incident_url: ${CHART_EXTERNAL_URL}/releases/`);
  });
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
