// Requests as alerts (issue 22): what the incident tells Alertmanager while a human is asked, and
// when an ending needs one. Pure, so the workflow builds the alerts and the adapter
// (activities/alertmanager.ts) only adds the times and the incident page's link.
import { HOLDS, type Hold, type Outcome } from './vocabulary';
import { ownRecordOf, z } from './validation';

export const DECISION_REQUIRED = 'HelmUnstuckDecisionRequired';
export const NEEDS_ATTENTION = 'HelmUnstuckNeedsAttention';

/** Endings a human must look at. */
export const NEEDS_HUMAN: readonly Outcome[] = ['needs-review', 'needs-investigation', 'failed'];

/** The hold's severity: `warning` while it is young, `critical` once it escalated (overdue). */
export type Severity = 'warning' | 'critical';
export const severityAfter = (escalations: number): Severity => (escalations > 0 ? 'critical' : 'warning');

/**
 * How long Alertmanager keeps a request firing without hearing from us again. When an alert's
 * endsAt passes, Alertmanager takes it as resolved (and sends the resolved notification), so this
 * is long: a hold is resolved explicitly when it closes, and each escalation posts it again with a
 * new endsAt. A week (or two escalations, if longer) ends a request only when the worker has been
 * gone that long, and then rightly: nobody is waiting on it any more.
 */
export const REQUEST_LIFETIME_MS = 7 * 24 * 3600_000;
export const requestLifetimeMs = (escalateAfterMs: number): number => Math.max(REQUEST_LIFETIME_MS, 2 * escalateAfterMs);
/** An ending that needs a human fires for a day; nothing later resolves it (the report stays). */
export const ATTENTION_LIFETIME_MS = 24 * 3600_000;

const MAX_VALUE = 2000;
const Text = z.string().max(MAX_VALUE);
const LabelValue = z.string().min(1).max(256);

/** One alert as the workflow sends it: `firingForMs` set, it fires that long from posting; unset, it is resolved now. */
export const RequestAlertSchema = z.strictObject({
  labels: z.strictObject({
    alertname: z.enum([DECISION_REQUIRED, NEEDS_ATTENTION]),
    cluster: LabelValue,
    namespace: LabelValue,
    release: LabelValue,
    incident: LabelValue,
    hold: z.enum(HOLDS).optional(),
    outcome: LabelValue.optional(),
    severity: z.enum(['warning', 'critical']),
  }),
  annotations: ownRecordOf(z.string().regex(/^[a-z_]{1,32}$/), Text).refine((m) => Object.keys(m).length <= 16, { error: 'has more than 16 entries' }),
  startsAt: z.string().max(64),
  firingForMs: z.number().int().min(1).max(30 * 24 * 3600_000).optional(),
});
export type RequestAlert = z.output<typeof RequestAlertSchema>;

export const AlertPostSchema = z.strictObject({ incident: LabelValue, alerts: z.array(RequestAlertSchema).min(1).max(4) });
export type AlertPost = z.output<typeof AlertPostSchema>;

const cut = (s: string): string => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s);

export interface Where {
  cluster: string;
  namespace: string;
  release: string;
  incident: string;
}

const HOLD_WORDS: Record<Hold, string> = {
  approval: 'approval to unlock it',
  'ci-busy': 'a human: CI is still deploying',
  unhealthy: 'a human: its Deployments are unhealthy',
  repeated: 'a human: it was unlocked as often as its policy allows',
};

/** The request while `hold` is open: who is asked for what, and the plan when there is one. */
export function decisionRequired(
  w: Where,
  hold: Hold,
  o: { severity: Severity; waitingFor: string; since: string; plan?: { digest: string; words: string }; escalateAfterMs: number },
): RequestAlert {
  return {
    labels: { alertname: DECISION_REQUIRED, ...pick(w), hold, severity: o.severity },
    annotations: {
      summary: cut(`${w.cluster}/${w.namespace}/${w.release} is stuck and waits for ${HOLD_WORDS[hold]}${o.severity === 'critical' ? ' (overdue)' : ''}`),
      description: cut(`waiting for ${o.waitingFor}`),
      ...(o.plan && hold === 'approval' ? { plan: cut(o.plan.words), plan_digest: o.plan.digest } : {}),
    },
    startsAt: o.since,
    firingForMs: requestLifetimeMs(o.escalateAfterMs),
  };
}

/** The same alert, resolved now. */
export const resolved = (a: RequestAlert): RequestAlert => {
  const { firingForMs: _, ...rest } = a;
  return rest;
};

/** An ending a human must look at, with its reason. */
export function needsAttention(w: Where, outcome: Outcome, reason: string, at: string): RequestAlert {
  return {
    labels: { alertname: NEEDS_ATTENTION, ...pick(w), outcome, severity: 'warning' },
    annotations: { summary: cut(`${w.cluster}/${w.namespace}/${w.release} needs a human: the incident ended ${outcome}`), reason: cut(reason) },
    startsAt: at,
    firingForMs: ATTENTION_LIFETIME_MS,
  };
}

const pick = (w: Where) => ({ cluster: w.cluster, namespace: w.namespace, release: w.release, incident: w.incident });

/** What a post says, in evidence: which alert, raised or resolved. */
export function describePost(alerts: readonly RequestAlert[]): string {
  return alerts.map((a) => `${a.labels.alertname}${a.labels.hold ? ` (${a.labels.hold}, ${a.labels.severity})` : ''} ${a.firingForMs ? 'raised' : 'resolved'}`).join(', ');
}

/** The incident's page on serve's external URL. */
export function incidentUrl(externalUrl: string, incident: string): string {
  return `${externalUrl.replace(/\/+$/, '')}/incidents/${incident.split('/').map(encodeURIComponent).join('/')}`;
}
