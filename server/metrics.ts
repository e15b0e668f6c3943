// helm-unstuck's Prometheus metrics (prom-client), in a registry of their own per `serve`, so
// tests can run several servers in one process. More collectors (the detector's) register into
// the same registry: `new Gauge({ ..., registers: [metrics.registry] })`.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** helm-unstuck's metrics, shared by the webhook receiver and the worker in one process. */
export function createMetrics(registry = new Registry()) {
  const registers = [registry];
  return {
    registry,
    webhookRequests: new Counter({ name: 'helm_unstuck_webhook_requests_total', help: 'Alertmanager webhook requests, by result (ok, unauthorized, bad_request, too_large, unavailable, …).', labelNames: ['result'], registers }),
    alerts: new Counter({ name: 'helm_unstuck_alerts_total', help: 'Alerts received, by result: started, joined, duplicate, resolved, rejected.', labelNames: ['result'], registers }),
    incidents: new Counter({ name: 'helm_unstuck_incidents_total', help: 'Finished incidents, by outcome.', labelNames: ['outcome'], registers }),
    stepSeconds: new Histogram({ name: 'helm_unstuck_step_duration_seconds', help: 'Time each runbook step took, waits for humans included.', labelNames: ['step'], buckets: [0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 14400], registers }),
    alertsNamespaceRefused: new Counter({ name: 'helm_unstuck_alerts_namespace_refused_total', help: "Alerts for a namespace the cluster's configuration does not allow (clusters.<name>.namespaces): rejected, nothing started.", labelNames: ['cluster'], registers }),
    alertsTruncated: new Counter({ name: 'helm_unstuck_alerts_truncated_total', help: 'Alerts Alertmanager left out of its webhooks (truncatedAlerts, max_alerts); each truncated group makes the receiver scan its cluster.', registers }),
    truncationScans: new Counter({ name: 'helm_unstuck_truncation_scans_total', help: 'Scans of a cluster after a truncated alert group, by result: scanned, skipped (one ran within the interval), failed.', labelNames: ['result'], registers }),
    admissionPolicyEnforced: new Gauge({
      name: 'helm_unstuck_admission_policy_enforced',
      help: "Whether helm-unstuck's admission policy is in force, by cluster: 1 a dry-run forged release record was refused by a ValidatingAdmissionPolicy, 0 it was admitted (unlocks there are refused unless clusters.<name>.admissionPolicy is not-required), -1 unknown (not probed yet, unreachable, or the probe was refused by RBAC).",
      labelNames: ['cluster'],
      registers,
    }),
    stuckReleases: new Gauge({ name: 'helm_unstuck_stuck_releases', help: 'Releases with a firing stuck alert, by cluster.', labelNames: ['cluster'], registers }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** A counter's current value for these labels (0 if never counted). */
export async function counted(c: Counter, labels: Record<string, string>): Promise<number> {
  const same = (l: Record<string, string | number | undefined>) => Object.entries(labels).every(([k, v]) => l[k] === v) && Object.keys(l).length === Object.keys(labels).length;
  return (await c.get()).values.find((v) => same(v.labels))?.value ?? 0;
}
