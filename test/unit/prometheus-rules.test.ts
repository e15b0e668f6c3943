// The shipped Prometheus rules: written files equal what deploy/prometheus/rules.ts generates,
// Prometheus' own promtool accepts them, and their unit tests (deploy/prometheus/tests) pass:
// each rule fires, stays quiet below the minimum age, and resolves.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DECISION_REQUIRED, NEEDS_ATTENTION, PAGING_SEVERITY } from '../../deploy/prometheus/alertmanager-example';
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
    ['no scheme', 'helm-unstuck.example.net', 'is not a URL'],
    ['ftp', 'ftp://hu.example.net', 'must be an http or https URL'],
    ['a template', 'https://hu.example.net/{{ $value }}', 'must not contain braces'],
    ['a query', 'https://hu.example.net/?x=1', 'must not have a query or fragment'],
    ['5,000 characters', `https://hu.example.net/${'a'.repeat(5000)}`, 'is longer than 2048 characters'],
  ])('an externalUrl with %s is refused', (_what, externalUrl, why) => {
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

test('amtool accepts the example Alertmanager routes and receivers', () => {
  const out = run(AMTOOL, ['check-config', 'alertmanager-example.yml']);
  expect(out).toContain('SUCCESS');
  expect(out).toContain('4 receivers');
});

describe('the example routes each alert where it is meant to go (amtool config routes test)', () => {
  const incident = ['cluster=gprd', 'namespace=gitlab', 'release=gitlab', 'incident=helm-unstuck/gprd/gitlab/gitlab'];
  test.each([
    ['a stuck release: to serve, which starts the incident', ['alertname=HelmReleaseStuck', 'severity=warning', 'cluster=gprd', 'namespace=gitlab', 'label_name=gitlab'], 'helm-unstuck'],
    ['a request waiting for approval: to the chat', [`alertname=${DECISION_REQUIRED}`, 'severity=warning', 'hold=approval', ...incident], 'helm-unstuck-chat'],
    ['the same request overdue: paged, and still in the chat', [`alertname=${DECISION_REQUIRED}`, `severity=${PAGING_SEVERITY}`, 'hold=approval', ...incident], 'helm-unstuck-pager,helm-unstuck-chat'],
    ['an ending that needs a human: to the chat', [`alertname=${NEEDS_ATTENTION}`, 'severity=warning', 'reason=needs-review', ...incident], 'helm-unstuck-chat'],
    ['an ending that needs a human, critical: paged too', [`alertname=${NEEDS_ATTENTION}`, `severity=${PAGING_SEVERITY}`, 'reason=failed', ...incident], 'helm-unstuck-pager,helm-unstuck-chat'],
    ['anything else, critical or not: the default, never the pager', ['alertname=KubePodCrashLooping', `severity=${PAGING_SEVERITY}`], 'default'],
  ])('%s', (_what, labels, receivers) => {
    const args = ['config', 'routes', 'test', '--config.file=alertmanager-example.yml', `--verify.receivers=${receivers}`, ...labels];
    expect(run(AMTOOL, args).trim()).toBe(receivers);
  });
});

describe("the chat message's buttons and the page's link, rendered by Alertmanager's own templates (amtool template render)", () => {
  const example = parse(readFileSync(join(DIR, 'alertmanager-example.yml'), 'utf8')) as {
    receivers: { name: string; slack_configs?: { actions: { type: string; text: string; url: string }[]; title_link: string }[]; pagerduty_configs?: { links: { href: string }[] }[] }[];
  };
  const slack = example.receivers.find((r) => r.name === 'helm-unstuck-chat')!.slack_configs![0]!;
  const pager = example.receivers.find((r) => r.name === 'helm-unstuck-pager')!.pagerduty_configs![0]!;
  const dir = mkdtempSync(join(tmpdir(), 'am-template-'));
  writeFileSync(join(dir, 'none.tmpl'), '');
  const URL = 'https://helm-unstuck.example.net/incidents/helm-unstuck/gprd/gitlab/gitlab';
  function render(template: string, alertname: string): string {
    const labels = { alertname, cluster: 'gprd', namespace: 'gitlab', release: 'gitlab', severity: 'warning' };
    const annotations = { summary: 'Helm release gitlab/gitlab waits for approval', url: URL };
    const data = { receiver: 'helm-unstuck-chat', status: 'firing', alerts: [{ status: 'firing', labels, annotations }], groupLabels: {}, commonLabels: labels, commonAnnotations: annotations, externalURL: 'http://alertmanager' };
    const file = join(dir, `${alertname}.json`);
    writeFileSync(file, JSON.stringify(data));
    return run(AMTOOL, ['template', 'render', `--template.glob=${join(dir, '*.tmpl')}`, `--template.data=${file}`, `--template.text=${template}`]).trim();
  }
  const buttons = (alertname: string) => slack.actions.map((a) => ({ type: a.type, text: render(a.text, alertname), url: render(a.url, alertname) }));

  test('a request: link buttons Open (the page) and Approve (its decision form)', () => {
    expect(buttons(DECISION_REQUIRED)).toEqual([
      { type: 'button', text: 'Open', url: URL },
      { type: 'button', text: 'Approve', url: `${URL}#decision` },
    ]);
    expect(render(slack.title_link, DECISION_REQUIRED)).toBe(URL);
    expect(render(pager.links[0]!.href, DECISION_REQUIRED)).toBe(URL);
  });

  test('an ending that needs a human offers no Approve: Open and Review, both the page', () => {
    expect(buttons(NEEDS_ATTENTION)).toEqual([
      { type: 'button', text: 'Open', url: URL },
      { type: 'button', text: 'Review', url: URL },
    ]);
  });
});
