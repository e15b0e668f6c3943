// An Alertmanager webhook (version 4), read strictly, and each alert mapped to the release it is
// about. Pure: the HTTP service calls it, tests table-test it with real payloads.
import { NamespaceName, ReleaseName, validateClusterName } from './helm';
import { check, own, ownRecordOf, quote, z } from './validation';

const MAX_STRING = 4096;
/** Labels (or annotations) one map may hold: Prometheus alerts carry a few dozen at most. */
export const MAX_LABELS = 128;
/** An alert's summary annotation, which the incident keeps in its evidence. */
export const MAX_SUMMARY_CHARS = 1000;

/** Label and annotation maps: strings only, bounded in length and in number. */
const StringMap = ownRecordOf(z.string().max(256), z.string().max(MAX_STRING)).refine((m) => Object.keys(m).length <= MAX_LABELS, { error: `has more than ${MAX_LABELS} entries` });
const str = z.string().max(MAX_STRING);
const Status = z.enum(['firing', 'resolved']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const Time = str.regex(RFC3339, { error: 'is not an RFC 3339 time' });

const AlertSchema = z.object({
  status: Status,
  labels: StringMap,
  annotations: StringMap.prefault({}),
  startsAt: Time,
  endsAt: Time,
  generatorURL: str.default(''),
  fingerprint: z.string().regex(/^[0-9a-f]{1,64}$/, { error: 'must be hexadecimal' }),
});

/** Alertmanager's webhook, version 4 (unknown fields are dropped, as Alertmanager may add some). */
const PayloadSchema = z.object({
  version: z.literal('4'),
  groupKey: str,
  truncatedAlerts: z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be a whole number' }),
  status: Status,
  receiver: str,
  groupLabels: StringMap,
  commonLabels: StringMap,
  commonAnnotations: StringMap,
  externalURL: str,
  // Any number: a group of 5,000 alerts (max_alerts: 0) is one release each, none to refuse. The
  // body's size limit bounds the count; the receiver forwards them a few at a time. Each alert is
  // read on its own (below): one bad alert is rejected alone, not the group it came with.
  alerts: z.array(z.unknown()).min(1),
});

export type AlertmanagerAlert = z.output<typeof AlertSchema>;
/** An alert that is not one, with why, and its fingerprint when it has a readable one. */
export interface UnreadableAlert {
  fingerprint: string;
  reason: string;
}
export type AlertmanagerPayload = Omit<z.output<typeof PayloadSchema>, 'alerts'> & { alerts: AlertmanagerAlert[]; unreadable: UnreadableAlert[] };

/** Which labels name the cluster, namespace, release and revision (kube-state-metrics' by default). */
export interface AlertMapping {
  alertnames: string[];
  labels: { cluster: string; namespace: string; release: string; revision: string };
}

export const DEFAULT_ALERT_MAPPING: AlertMapping = {
  alertnames: ['HelmReleaseStuck'],
  labels: { cluster: 'cluster', namespace: 'namespace', release: 'label_name', revision: 'label_version' },
};

/** Prometheus label names, as the config names them. */
const LabelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/, { error: (iss) => `${quote(iss.input)} is not a Prometheus label name` });

/** The config's `alerts` section: every key optional, the defaults above. */
export const AlertMappingSchema = z.strictObject({
  alertnames: z.array(z.string().min(1).max(256)).min(1).default(DEFAULT_ALERT_MAPPING.alertnames),
  labels: z
    .strictObject({
      cluster: LabelName.default(DEFAULT_ALERT_MAPPING.labels.cluster),
      namespace: LabelName.default(DEFAULT_ALERT_MAPPING.labels.namespace),
      release: LabelName.default(DEFAULT_ALERT_MAPPING.labels.release),
      revision: LabelName.default(DEFAULT_ALERT_MAPPING.labels.revision),
    })
    .prefault({}),
}) satisfies z.ZodType<AlertMapping>;

/** The payload, or every reason it is not a version 4 Alertmanager webhook. */
export function parseAlertmanagerPayload(body: unknown): { payload: AlertmanagerPayload } | { problems: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problems: ['body must be a JSON object'] };
  // Another version's fields mean other things: say only that.
  const version = (body as { version?: unknown }).version;
  if (version !== '4') return { problems: [`version must be "4" (Alertmanager webhook version 4), not ${quote(version ?? null)}`] };
  const r = check(PayloadSchema, body, 'body');
  if ('problems' in r) return r;
  const alerts: AlertmanagerAlert[] = [];
  const unreadable: UnreadableAlert[] = [];
  r.data.alerts.forEach((raw, i) => {
    const root = `alerts[${i}]`;
    const a = check(AlertSchema, raw, root);
    if ('data' in a) alerts.push(a.data);
    else unreadable.push({ fingerprint: fingerprintOf(raw), reason: a.problems.slice(0, 5).map((p) => (p.startsWith(root) ? p : `${root}.${p}`)).join('; ') });
  });
  return { payload: { ...r.data, alerts, unreadable } };
}

/** A rejected alert's fingerprint, for the answer and the log: only one that is one. */
function fingerprintOf(raw: unknown): string {
  const f = raw && typeof raw === 'object' ? (raw as { fingerprint?: unknown }).fingerprint : undefined;
  return typeof f === 'string' && /^[0-9a-f]{1,64}$/.test(f) ? f : '(none)';
}

export interface AlertTarget {
  fingerprint: string;
  status: 'firing' | 'resolved';
  cluster: string;
  namespace: string;
  release: string;
  revision?: number;
  summary?: string;
  startsAt: string;
  endsAt: string;
}

/** The release an alert is about, or why it is not one we act on. */
export function alertTarget(a: AlertmanagerAlert, m: AlertMapping = DEFAULT_ALERT_MAPPING): { target: AlertTarget } | { reason: string } {
  const name = own(a.labels, 'alertname');
  if (!name || !m.alertnames.includes(name)) return { reason: `alertname ${quote(name ?? null)} is not one helm-unstuck handles (${m.alertnames.join(', ')})` };
  const get = (k: keyof AlertMapping['labels']) => own(a.labels, m.labels[k]);
  const cluster = get('cluster');
  const namespace = get('namespace');
  const release = get('release');
  const revisionText = get('revision');
  if (!cluster) return { reason: `label ${m.labels.cluster} (cluster) is missing` };
  const clusterProblem = validateClusterName(cluster);
  if (clusterProblem) return { reason: `label ${m.labels.cluster} (cluster): ${clusterProblem}` };
  if (namespace === undefined || !NamespaceName.safeParse(namespace).success) return { reason: `label ${m.labels.namespace} (namespace) is missing or not a namespace name` };
  if (release === undefined || !ReleaseName.safeParse(release).success) return { reason: `label ${m.labels.release} (release) is missing or not a Helm release name` };
  let revision: number | undefined;
  if (revisionText !== undefined) {
    revision = Number(revisionText);
    if (!Number.isInteger(revision) || revision < 1) return { reason: `label ${m.labels.revision} (revision) is not a revision number` };
  }
  const summary = own(a.annotations, 'summary');
  // Refused, not cut short: the evidence says what Alertmanager sent, or nothing.
  if (summary !== undefined && summary.length > MAX_SUMMARY_CHARS) return { reason: `annotation summary is too long (${summary.length} characters, at most ${MAX_SUMMARY_CHARS})` };
  return {
    target: {
      fingerprint: a.fingerprint,
      status: a.status,
      cluster,
      namespace,
      release,
      ...(revision !== undefined ? { revision } : {}),
      ...(summary ? { summary } : {}),
      startsAt: a.startsAt,
      endsAt: a.endsAt,
    },
  };
}
