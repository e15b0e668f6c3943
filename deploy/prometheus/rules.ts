// The one source of helm-unstuck's Prometheus rules. `npx tsx deploy/prometheus/rules.ts` writes
// the plain rules files and the PrometheusRule manifests beside it; test/unit/prometheus-rules.test.ts
// fails when a written file differs from what this generates, so they cannot drift apart.
// `npx tsx deploy/prometheus/rules.ts --external-url https://helm-unstuck.example.net --out DIR`
// writes your own, linking HelmReleaseStuck to your serve.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PENDING_STATUSES } from '../../decisions/helm';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { releasePagePath } from '../../decisions/vocabulary';
import { externalUrlProblem, joinUrl } from '../../lib/external-url';
import { alertmanagerExample } from './alertmanager-example';

export interface RuleOptions {
  /** A pending release younger than this may be a live upgrade (the workflow's minPendingAge). */
  minAgeSeconds: number;
  /** How long the condition must hold before the alert fires. */
  for: string;
  /** How long the detector may be out of sync before HelmUnstuckDetectorDown fires. */
  detectorDownFor: string;
  runbookUrl: string;
  /**
   * serve's external URL (its config's server.externalUrl): HelmReleaseStuck's `incident_url` is
   * the release's page there, which redirects to the running incident or lists the past ones.
   * Unset: no incident_url.
   */
  externalUrl?: string;
}

/** The shipped files' external URL: an example, replaced by yours (--external-url, or the chart's externalUrl). */
export const EXAMPLE_EXTERNAL_URL = 'https://helm-unstuck.example.com';

export const DEFAULTS: RuleOptions = {
  minAgeSeconds: 300,
  for: '1m',
  detectorDownFor: '5m',
  runbookUrl: 'https://gitlab.com/gitlab-com/runbooks/-/blob/master/docs/kube/helm-upgrade-stuck.md',
  externalUrl: EXAMPLE_EXTERNAL_URL,
};

/**
 * The chart's copy carries this in place of a URL; its PrometheusRule template puts the chart's
 * `externalUrl` value there, or drops incident_url when that is unset (templates/prometheusrule.yaml).
 */
export const CHART_EXTERNAL_URL = 'https://external-url.helm-unstuck.invalid';

const PENDING = PENDING_STATUSES.join('|');
/** The labels helm-unstuck's receiver maps by default (decisions/alerts.ts), and the status. */
const STUCK_BY = 'cluster, namespace, label_name, label_version';

/** The release's page on serve, as a Prometheus template over the alert's labels. */
function incidentUrl(externalUrl: string): string {
  const problem = externalUrlProblem(externalUrl);
  if (problem) throw new Error(`externalUrl ${JSON.stringify(externalUrl.slice(0, 100))} ${problem}`);
  const label = (name: string) => `{{ $labels.${name} | urlquery }}`;
  return joinUrl(externalUrl, releasePagePath(label('cluster'), label('namespace'), label('label_name')));
}

function annotations(o: RuleOptions, status: string) {
  const release = '{{ $labels.namespace }}/{{ $labels.label_name }}';
  return {
    summary: `Helm release ${release} is stuck ${status}`,
    description:
      `Revision {{ $labels.label_version }} of ${release} in cluster {{ $labels.cluster }} has been ${status} for {{ $value | humanizeDuration }}. ` +
      'Every deploy fails with "another operation (install/upgrade/rollback) is in progress" until its record is removed; helm-unstuck runs the runbook, with a human approval.',
    runbook_url: o.runbookUrl,
    ...(o.externalUrl ? { incident_url: incidentUrl(o.externalUrl) } : {}),
  };
}

/** Rules on helm-unstuck's own detector (serve or `helm-unstuck exporter`). */
export function detectorRules(o: RuleOptions = DEFAULTS) {
  return {
    groups: [
      {
        name: 'helm-unstuck',
        rules: [
          {
            alert: 'HelmReleaseStuck',
            // Age of the pending operation; the release and revision renamed to the labels the
            // receiver reads, and nothing else kept (no instance/job: replicas make one alert).
            expr:
              `max by (${STUCK_BY}, status) (\n` +
              `  label_replace(label_replace(time() - helm_unstuck_release_pending_since_seconds,\n` +
              `    "label_name", "$1", "release", "(.+)"), "label_version", "$1", "revision", "(.+)")\n` +
              `) >= ${o.minAgeSeconds}\n`,
            for: o.for,
            labels: { severity: 'warning' },
            annotations: annotations(o, '{{ $labels.status }}'),
          },
          {
            alert: 'HelmUnstuckDetectorDown',
            expr: 'max by (cluster) (helm_unstuck_detector_in_sync) == 0\nor absent(helm_unstuck_detector_in_sync)\n',
            for: o.detectorDownFor,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'helm-unstuck cannot see stuck Helm releases{{ with $labels.cluster }} in cluster {{ . }}{{ end }}',
              description:
                'The detector is not scraped, or has not listed and watched the cluster\'s pending Helm records (see helm_unstuck_detector_up and /healthz). Until it is back, HelmReleaseStuck cannot fire.',
              runbook_url: o.runbookUrl,
            },
          },
        ],
      },
    ],
  };
}

/**
 * The same HelmReleaseStuck for teams that run kube-state-metrics instead, started with
 * `--metric-labels-allowlist=secrets=[name,owner,status,version]` (Secret driver only).
 */
export function kubeStateMetricsRules(o: RuleOptions = DEFAULTS) {
  return {
    groups: [
      {
        name: 'helm-unstuck-kube-state-metrics',
        rules: [
          {
            alert: 'HelmReleaseStuck',
            expr:
              `max by (${STUCK_BY}, label_status) (\n` +
              `  (time() - kube_secret_created)\n` +
              `  * on (cluster, namespace, secret) group_left (label_name, label_version, label_status)\n` +
              `  max by (cluster, namespace, secret, label_name, label_version, label_status) (\n` +
              `    kube_secret_labels{label_owner="helm", label_status=~"${PENDING}"}\n` +
              `  )\n` +
              `) >= ${o.minAgeSeconds}\n`,
            for: o.for,
            labels: { severity: 'warning' },
            annotations: annotations(o, '{{ $labels.label_status }}'),
          },
        ],
      },
    ],
  };
}

type Groups = ReturnType<typeof detectorRules>['groups'] | ReturnType<typeof kubeStateMetricsRules>['groups'];

/** The prometheus-operator form of the same groups. */
export function prometheusRule(name: string, groups: Groups) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'helm-unstuck', 'app.kubernetes.io/component': 'alerting' } },
    spec: { groups },
  };
}

const HEADER = '# Generated by deploy/prometheus/rules.ts (npx tsx deploy/prometheus/rules.ts): edit that, not this.\n';
export const toYaml = (doc: unknown, header = HEADER) => header + stringify(doc, { lineWidth: 0 });
const CHART_HEADER =
  '# A copy of deploy/prometheus/helm-unstuck.rules.yml (a chart can only read files inside itself),\n' +
  '# written by deploy/prometheus/rules.ts. The PrometheusRule template (prometheusRule.enabled) puts these groups into its spec,\n' +
  `# with the chart's externalUrl in place of ${CHART_EXTERNAL_URL} (no externalUrl: no incident_url).\n`;

/** Every shipped file, path from deploy/prometheus → content (the chart's copy included). */
export function shippedFiles(o: RuleOptions = DEFAULTS): Record<string, string> {
  return {
    'helm-unstuck.rules.yml': toYaml(detectorRules(o)),
    'helm-unstuck-kube-state-metrics.rules.yml': toYaml(kubeStateMetricsRules(o)),
    'helm-unstuck.prometheusrule.yaml': toYaml(prometheusRule('helm-unstuck', detectorRules(o).groups)),
    'helm-unstuck-kube-state-metrics.prometheusrule.yaml': toYaml(prometheusRule('helm-unstuck-kube-state-metrics', kubeStateMetricsRules(o).groups)),
    'alertmanager-example.yml': toYaml(alertmanagerExample()),
    '../chart/helm-unstuck/files/helm-unstuck.rules.yml': toYaml(detectorRules({ ...o, externalUrl: CHART_EXTERNAL_URL }), CHART_HEADER),
  };
}

/** Your own rules files, for your serve: the plain files and the PrometheusRule manifests. */
export function ownFiles(o: RuleOptions): Record<string, string> {
  const all = shippedFiles(o);
  return Object.fromEntries(Object.entries(all).filter(([name]) => /^helm-unstuck[^/]*\.(rules\.yml|prometheusrule\.yaml)$/.test(name)));
}

function main(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { 'external-url': { type: 'string' }, out: { type: 'string' } }, strict: true });
  const externalUrl = values['external-url'];
  if (externalUrl === undefined && values.out === undefined) {
    for (const [name, text] of Object.entries(shippedFiles())) writeFileSync(join(__dirname, name), text);
    return;
  }
  // The shipped files stay the examples: your own go elsewhere.
  if (externalUrl === undefined || values.out === undefined) throw new Error('give both --external-url URL and --out DIR (or neither, to write the shipped examples)');
  mkdirSync(values.out, { recursive: true });
  for (const [name, text] of Object.entries(ownFiles({ ...DEFAULTS, externalUrl }))) writeFileSync(join(values.out, name), text);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`rules.ts: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
