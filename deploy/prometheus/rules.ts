// The one source of helm-unstuck's Prometheus rules. `npx tsx deploy/prometheus/rules.ts` writes
// the plain rules files and the PrometheusRule manifests beside it; test/unit/prometheus-rules.test.ts
// fails when a written file differs from what this generates, so they cannot drift apart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface RuleOptions {
  /** A pending release younger than this may be a live upgrade (the workflow's minPendingAge). */
  minAgeSeconds: number;
  /** How long the condition must hold before the alert fires. */
  for: string;
  /** How long the detector may be out of sync before HelmUnstuckDetectorDown fires. */
  detectorDownFor: string;
  runbookUrl: string;
  /** helm-unstuck's approval page, to link each alert to its incident (optional). */
  incidentBaseUrl?: string;
}

export const DEFAULTS: RuleOptions = {
  minAgeSeconds: 300,
  for: '1m',
  detectorDownFor: '5m',
  runbookUrl: 'https://gitlab.com/gitlab-com/runbooks/-/blob/master/docs/kube/helm-upgrade-stuck.md',
};

const PENDING = 'pending-install|pending-upgrade|pending-rollback';
/** The labels helm-unstuck's receiver maps by default (decisions/alerts.ts), and the status. */
const STUCK_BY = 'cluster, namespace, label_name, label_version';

function annotations(o: RuleOptions, status: string) {
  const release = '{{ $labels.namespace }}/{{ $labels.label_name }}';
  return {
    summary: `Helm release ${release} is stuck ${status}`,
    description:
      `Revision {{ $labels.label_version }} of ${release} in cluster {{ $labels.cluster }} has been ${status} for {{ $value | humanizeDuration }}. ` +
      'Every deploy fails with "another operation (install/upgrade/rollback) is in progress" until its record is removed; helm-unstuck runs the runbook, with a human approval.',
    runbook_url: o.runbookUrl,
    ...(o.incidentBaseUrl
      ? { incident_url: `${o.incidentBaseUrl.replace(/\/$/, '')}/incidents/helm-unstuck/{{ $labels.cluster }}/{{ $labels.namespace }}/{{ $labels.label_name }}` }
      : {}),
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

/** An Alertmanager route and receiver that send the alert to helm-unstuck serve. */
export function alertmanagerExample() {
  return {
    route: {
      receiver: 'default',
      routes: [
        {
          receiver: 'helm-unstuck',
          matchers: ['alertname="HelmReleaseStuck"'],
          group_by: ['alertname', 'cluster', 'namespace', 'label_name'],
          group_wait: '30s',
          group_interval: '5m',
          repeat_interval: '1h',
          continue: true,
        },
      ],
    },
    receivers: [
      { name: 'default' },
      {
        name: 'helm-unstuck',
        webhook_configs: [
          {
            url: 'http://helm-unstuck:8080/webhook/alertmanager',
            send_resolved: true,
            max_alerts: 0,
            http_config: { authorization: { type: 'Bearer', credentials_file: '/etc/alertmanager/helm-unstuck-token' } },
          },
        ],
      },
    ],
  };
}

const HEADER = '# Generated by deploy/prometheus/rules.ts (npx tsx deploy/prometheus/rules.ts): edit that, not this.\n';
export const toYaml = (doc: unknown, header = HEADER) => header + stringify(doc, { lineWidth: 0 });
const CHART_HEADER =
  '# A copy of deploy/prometheus/helm-unstuck.rules.yml (a chart can only read files inside itself),\n' +
  '# written by deploy/prometheus/rules.ts. The PrometheusRule template (prometheusRule.enabled) puts these groups into its spec.\n';

/** Every shipped file, path from deploy/prometheus → content (the chart's copy included). */
export function shippedFiles(o: RuleOptions = DEFAULTS): Record<string, string> {
  return {
    'helm-unstuck.rules.yml': toYaml(detectorRules(o)),
    'helm-unstuck-kube-state-metrics.rules.yml': toYaml(kubeStateMetricsRules(o)),
    'helm-unstuck.prometheusrule.yaml': toYaml(prometheusRule('helm-unstuck', detectorRules(o).groups)),
    'helm-unstuck-kube-state-metrics.prometheusrule.yaml': toYaml(prometheusRule('helm-unstuck-kube-state-metrics', kubeStateMetricsRules(o).groups)),
    'alertmanager-example.yml': toYaml(alertmanagerExample()),
    '../chart/helm-unstuck/files/helm-unstuck.rules.yml': toYaml(detectorRules(o), CHART_HEADER),
  };
}

if (require.main === module) {
  for (const [name, text] of Object.entries(shippedFiles())) writeFileSync(join(__dirname, name), text);
}
