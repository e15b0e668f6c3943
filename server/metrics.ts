// helm-unstuck's Prometheus metrics (prom-client), in a registry of their own per `serve`, so
// tests can run several servers in one process. More collectors (the detector's) register into
// the same registry: `new Gauge({ ..., registers: [metrics.registry] })`.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OutcomeSink } from '../activities/notify';
import type { RecoveryTimes } from '../decisions/recovery-times';
import { HOLDS, OUTCOMES, STEPS } from '../decisions/vocabulary';

/** Minutes to hours: a human answering at once, the runbook by hand (15-30 min), a night's wait. */
export const RECOVERY_BUCKETS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];

/** helm-unstuck's metrics, shared by the webhook receiver and the worker in one process. */
export function createMetrics(registry = new Registry()) {
  const registers = [registry];
  const m = {
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
    ...recoveryMetrics(registers),
  };
  // Every outcome and hold from the start at 0, so the first incident shows as an increase.
  for (const outcome of OUTCOMES) {
    m.incidents.inc({ outcome }, 0);
    m.incidentSeconds.zero({ outcome });
  }
  for (const hold of HOLDS) m.decisionWaitSeconds.zero({ hold });
  return m;
}

/** The times the people paged care about (decisions/recovery-times.ts). */
function recoveryMetrics(registers: Registry[]) {
  return {
    stuckToVerifiedSeconds: new Histogram({
      name: 'helm_unstuck_stuck_to_verified_seconds',
      help: "From the stuck release's pending record (Helm's record time) to the incident seeing Helm show it deployed again.",
      buckets: RECOVERY_BUCKETS,
      registers,
    }),
    decisionWaitSeconds: new Histogram({
      name: 'helm_unstuck_decision_wait_seconds',
      help: "From a hold opening to the human decision that answered it, by hold (approval, ci-busy, unhealthy); holds nobody answered are not counted.",
      labelNames: ['hold'],
      buckets: RECOVERY_BUCKETS,
      registers,
    }),
    incidentSeconds: new Histogram({
      name: 'helm_unstuck_incident_duration_seconds',
      help: 'From the incident starting to its end, by outcome.',
      labelNames: ['outcome'],
      buckets: RECOVERY_BUCKETS,
      registers,
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** A counter's current value for these labels (0 if never counted). */
export async function counted(c: Counter, labels: Record<string, string>): Promise<number> {
  const same = (l: Record<string, string | number | undefined>) => Object.entries(labels).every(([k, v]) => l[k] === v) && Object.keys(l).length === Object.keys(labels).length;
  return (await c.get()).values.find((v) => same(v.labels))?.value ?? 0;
}

const known = <T extends string>(set: readonly T[], v: unknown): v is T => set.some((x) => x === v);
const duration = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * reportOutcome's counts, into these metrics. What it reports comes from workflow history: a label
 * value outside its known set, or a duration that is not one, is dropped, never exported or thrown.
 */
export function outcomeSink(m: Metrics): OutcomeSink {
  return {
    incident: (outcome) => {
      if (known(OUTCOMES, outcome)) m.incidents.inc({ outcome });
    },
    step: (step, seconds) => {
      if (known(STEPS, step) && duration(seconds)) m.stepSeconds.observe({ step }, seconds);
    },
    times: (outcome, t: Partial<RecoveryTimes>) => {
      if (known(OUTCOMES, outcome) && duration(t?.incidentSeconds)) m.incidentSeconds.observe({ outcome }, t.incidentSeconds);
      if (duration(t?.stuckToVerifiedSeconds)) m.stuckToVerifiedSeconds.observe(t.stuckToVerifiedSeconds);
      for (const w of Array.isArray(t?.decisionWaits) ? t.decisionWaits : []) {
        if (known(HOLDS, w?.hold) && duration(w.seconds)) m.decisionWaitSeconds.observe({ hold: w.hold }, w.seconds);
      }
    },
  };
}
