// The Alertmanager configuration operators copy (written to alertmanager-example.yml by rules.ts):
// HelmReleaseStuck to serve's webhook, which starts the incident; the incident's own alerts to
// people: a chat message with link buttons for every request, and a page for the raised severity.
// test/unit/prometheus-rules.test.ts checks it with amtool: the file, where each alert is routed,
// and what the buttons say.

// The alerts an incident posts while it waits for a human, and when it ends needing one: named
// once, where the workflow builds them.
import { DECISION_REQUIRED, NEEDS_ATTENTION } from '../../decisions/alert-requests';

export { DECISION_REQUIRED, NEEDS_ATTENTION };
/** The severity an overdue hold rises to: the one that pages. */
export const PAGING_SEVERITY = 'critical';

const PEOPLE_ALERTS = `alertname=~"${DECISION_REQUIRED}|${NEEDS_ATTENTION}"`;
/** One notification per incident: its alerts share the url annotation the buttons use. */
const PER_INCIDENT = ['alertname', 'cluster', 'namespace', 'release', 'incident'];
/**
 * Seconds count here: the request is only as fast as the person who sees it. A group of one
 * incident's alerts needs no long wait; group_interval bounds how late "resolved" arrives.
 */
const PROMPT = { group_wait: '5s', group_interval: '30s' };

// The cluster first: an approver must not mistake production for staging.
const TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.cluster }}: {{ .CommonAnnotations.summary }}';
const TEXT =
  '{{ range .Alerts }}*{{ .Labels.cluster }}* `{{ .Labels.namespace }}/{{ .Labels.release }}`' +
  '{{ with .Labels.hold }} waits for: {{ . }}{{ end }}' +
  '{{ with (or .Annotations.reason .Labels.reason) }}\nWhy: {{ . }}{{ end }}' +
  '{{ with .Annotations.plan }}\nPlan: {{ . }}{{ end }}' +
  '{{ with .Annotations.digest }} (digest `{{ . }}`){{ end }}\n{{ end }}';
/** The page's decision form (server/views.ts decisionForm: id="decision"); a review has none. */
const SECOND_BUTTON = {
  text: `{{ if eq .CommonLabels.alertname "${NEEDS_ATTENTION}" }}Review{{ else }}Approve{{ end }}`,
  url: `{{ .CommonAnnotations.url }}{{ if eq .CommonLabels.alertname "${DECISION_REQUIRED}" }}#decision{{ end }}`,
};

/** An Alertmanager route and receivers: the alert to helm-unstuck serve, the incident's alerts to people. */
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
        // Overdue: the on-call is paged, and the chat still hears of it (continue).
        {
          receiver: 'helm-unstuck-pager',
          matchers: [PEOPLE_ALERTS, `severity="${PAGING_SEVERITY}"`],
          group_by: PER_INCIDENT,
          ...PROMPT,
          repeat_interval: '1h',
          continue: true,
        },
        {
          receiver: 'helm-unstuck-chat',
          matchers: [PEOPLE_ALERTS],
          group_by: PER_INCIDENT,
          ...PROMPT,
          repeat_interval: '4h',
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
      {
        name: 'helm-unstuck-chat',
        slack_configs: [
          {
            // A Slack incoming webhook's URL is a secret: from a mounted file, never in this config.
            api_url_file: '/etc/alertmanager/slack-webhook-url',
            channel: '#helm-unstuck',
            send_resolved: true,
            title: TITLE,
            title_link: '{{ .CommonAnnotations.url }}',
            text: TEXT,
            actions: [
              { type: 'button', text: 'Open', url: '{{ .CommonAnnotations.url }}' },
              { type: 'button', style: 'primary', ...SECOND_BUTTON },
            ],
          },
        ],
      },
      {
        name: 'helm-unstuck-pager',
        pagerduty_configs: [
          {
            routing_key_file: '/etc/alertmanager/pagerduty-routing-key',
            send_resolved: true,
            severity: PAGING_SEVERITY,
            description: TITLE,
            links: [{ href: '{{ .CommonAnnotations.url }}', text: 'Open the incident' }],
            details: {
              cluster: '{{ .CommonLabels.cluster }}',
              release: '{{ .CommonLabels.namespace }}/{{ .CommonLabels.release }}',
              waits_for: '{{ .CommonLabels.hold }}',
              plan: '{{ .CommonAnnotations.plan }}',
              digest: '{{ .CommonAnnotations.digest }}',
            },
          },
        ],
      },
    ],
  };
}
