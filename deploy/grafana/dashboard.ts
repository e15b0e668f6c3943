// The one source of helm-unstuck's Grafana dashboard. `npx tsx deploy/grafana/dashboard.ts` writes
// deploy/grafana/helm-unstuck.json and the chart's copy (a chart can only read files inside
// itself); test/unit/grafana-dashboard.test.ts fails when either differs from what this generates,
// and test/stack/dashboard.test.ts runs every panel's query against a real Prometheus after a real
// incident. The metrics are serve's (server/metrics.ts) and its detector's (detector/metrics.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  /** Instant: one value over the dashboard's range ($__range); else a series over time. */
  instant: boolean;
}

export interface Panel {
  id: number;
  title: string;
  description: string;
  type: 'timeseries' | 'stat' | 'bargauge';
  targets: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
  unit: string;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** p50 and p90 of a histogram over the dashboard's range, split by `by` (or not at all). */
function quantiles(metric: string, by: string[], legend: string): Target[] {
  const labels = ['le', ...by].join(', ');
  return [0.5, 0.9].map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: `histogram_quantile(${q}, sum by (${labels}) (increase(${metric}_bucket[$__range])))`,
    legendFormat: `p${q * 100}${legend ? ` ${legend}` : ''}`,
    instant: true,
  }));
}

const series = (expr: string, legendFormat: string): Target => ({ refId: 'A', expr, legendFormat, instant: false });

type PanelSpec = Omit<Panel, 'id' | 'gridPos'> & { w: number; h?: number };

const PANELS: PanelSpec[] = [
  {
    title: 'Stuck releases, by cluster',
    description: "Helm releases the detector sees pending (pending-install, -upgrade or -rollback), by cluster: each one blocks every deploy of its release.",
    type: 'timeseries',
    unit: 'short',
    w: 12,
    targets: [series('count by (cluster) (helm_unstuck_release_pending_since_seconds)', '{{cluster}}')],
  },
  {
    title: 'Incidents by outcome',
    description: 'Incidents that ended in the dashboard\'s time range, by outcome (helm_unstuck_incidents_total).',
    type: 'bargauge',
    unit: 'short',
    w: 12,
    targets: [{ refId: 'A', expr: 'sum by (outcome) (increase(helm_unstuck_incidents_total[$__range]))', legendFormat: '{{outcome}}', instant: true }],
  },
  {
    title: 'Stuck to verified (p50, p90)',
    description: "From the stuck release's pending record to Helm showing it deployed again, over the incidents in the time range (helm_unstuck_stuck_to_verified_seconds).",
    type: 'stat',
    unit: 's',
    w: 8,
    targets: quantiles('helm_unstuck_stuck_to_verified_seconds', [], ''),
  },
  {
    title: "Waiting for a human's decision (p50, p90), by hold",
    description: 'From a hold opening (approval, ci-busy, unhealthy) to the decision that answered it (helm_unstuck_decision_wait_seconds).',
    type: 'bargauge',
    unit: 's',
    w: 8,
    targets: quantiles('helm_unstuck_decision_wait_seconds', ['hold'], '{{hold}}'),
  },
  {
    title: 'Incident duration (p50, p90), by outcome',
    description: 'From the incident starting to its end (helm_unstuck_incident_duration_seconds).',
    type: 'bargauge',
    unit: 's',
    w: 8,
    targets: quantiles('helm_unstuck_incident_duration_seconds', ['outcome'], '{{outcome}}'),
  },
  {
    title: 'Detector in sync, by cluster',
    description: "1 while the detector has listed and watches the cluster's pending Helm records; 0 and HelmUnstuckDetectorDown fires: HelmReleaseStuck cannot.",
    type: 'timeseries',
    unit: 'bool',
    w: 8,
    targets: [series('min by (cluster) (helm_unstuck_detector_in_sync)', '{{cluster}}')],
  },
  {
    title: 'Detector reaching the API server, by cluster',
    description: "1 when the cluster's API server answered the detector's last request.",
    type: 'timeseries',
    unit: 'bool',
    w: 8,
    targets: [series('min by (cluster) (helm_unstuck_detector_up)', '{{cluster}}')],
  },
  {
    title: "Age of the detector's view, by cluster",
    description: 'Seconds since the detector last confirmed its view of the cluster current.',
    type: 'timeseries',
    unit: 's',
    w: 8,
    targets: [series('time() - max by (cluster) (helm_unstuck_detector_last_sync_timestamp_seconds)', '{{cluster}}')],
  },
  {
    title: 'Detector watch restarts, by cluster and reason',
    description: 'Watches restarted in the time range: expired (410 Gone, listed again) or disconnected (retried with backoff). Many disconnects: the API server is flapping.',
    type: 'bargauge',
    unit: 'short',
    w: 24,
    h: 6,
    targets: [{ refId: 'A', expr: 'sum by (cluster, reason) (increase(helm_unstuck_detector_watch_restarts_total[$__range]))', legendFormat: '{{cluster}} {{reason}}', instant: true }],
  },
];

/** The panels laid out in rows of 24 columns. */
export function panels(): Panel[] {
  let [x, y, row] = [0, 0, 0];
  return PANELS.map(({ w, h = 8, ...p }, i) => {
    if (x + w > 24) [x, y, row] = [0, y + row, 0];
    const panel = { id: i + 1, ...p, gridPos: { x, y, w, h } };
    [x, row] = [x + w, Math.max(row, h)];
    return panel;
  });
}

/** Grafana's JSON model: a datasource variable, the panels, the last 24 hours. */
export function dashboard() {
  return {
    uid: 'helm-unstuck',
    title: 'helm-unstuck',
    description: 'Stuck Helm releases, incidents by outcome, the time to recover and the detector\'s health.',
    tags: ['helm', 'helm-unstuck'],
    schemaVersion: 39,
    editable: true,
    time: { from: 'now-24h', to: 'now' },
    refresh: '1m',
    templating: { list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }] },
    panels: panels().map(({ unit, targets, ...p }) => ({
      ...p,
      datasource: DATASOURCE,
      fieldConfig: { defaults: { unit }, overrides: [] },
      options: p.type === 'timeseries' ? { legend: { displayMode: 'list', placement: 'bottom' } } : { reduceOptions: { calcs: ['lastNotNull'] } },
      targets: targets.map((t) => ({ datasource: DATASOURCE, refId: t.refId, expr: t.expr, legendFormat: t.legendFormat, instant: t.instant, range: !t.instant })),
    })),
  };
}

const CHART_COPY = '../chart/helm-unstuck/files/grafana-dashboard.json';

/** Every shipped file, path from deploy/grafana → content. */
export function shippedFiles(): Record<string, string> {
  const text = JSON.stringify(dashboard(), null, 2) + '\n';
  return { 'helm-unstuck.json': text, [CHART_COPY]: text };
}

if (require.main === module) {
  for (const [name, text] of Object.entries(shippedFiles())) writeFileSync(join(__dirname, name), text);
}
