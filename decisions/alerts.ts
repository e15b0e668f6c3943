// An Alertmanager webhook (version 4), read strictly, and each alert mapped to the release it is
// about. Pure: the HTTP service calls it, tests table-test it with real payloads.

export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface AlertmanagerPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

/** Which labels name the cluster, namespace, release and revision (kube-state-metrics' by default). */
export interface AlertMapping {
  alertnames: string[];
  labels: { cluster: string; namespace: string; release: string; revision: string };
}

export const DEFAULT_ALERT_MAPPING: AlertMapping = {
  alertnames: ['HelmReleaseStuck'],
  labels: { cluster: 'cluster', namespace: 'namespace', release: 'label_name', revision: 'label_version' },
};

export const MAX_ALERTS_PER_PAYLOAD = 1000;
const MAX_STRING = 4096;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string, problems: string[]): Record<string, string> {
  if (!isObj(v)) {
    problems.push(`${where} must be an object of strings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') problems.push(`${where}.${k} must be a string`);
    else if (x.length > MAX_STRING || k.length > 256) problems.push(`${where}.${k} is too long`);
    else out[k] = x;
  }
  return out;
}

function str(v: unknown, where: string, problems: string[]): string {
  if (typeof v !== 'string') {
    problems.push(`${where} must be a string`);
    return '';
  }
  if (v.length > MAX_STRING) problems.push(`${where} is too long`);
  return v;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The payload, or every reason it is not a version 4 Alertmanager webhook. */
export function parseAlertmanagerPayload(body: unknown): { payload: AlertmanagerPayload } | { problems: string[] } {
  const p: string[] = [];
  if (!isObj(body)) return { problems: ['body must be a JSON object'] };
  if (body.version !== '4') return { problems: [`version must be "4" (Alertmanager webhook version 4), not ${JSON.stringify(body.version)}`] };
  const status = body.status;
  if (status !== 'firing' && status !== 'resolved') p.push('status must be "firing" or "resolved"');
  if (!Array.isArray(body.alerts)) return { problems: [...p, 'alerts must be an array'] };
  if (body.alerts.length === 0) p.push('alerts is empty');
  if (body.alerts.length > MAX_ALERTS_PER_PAYLOAD) return { problems: [...p, `more than ${MAX_ALERTS_PER_PAYLOAD} alerts in one payload`] };
  const truncated = body.truncatedAlerts;
  if (typeof truncated !== 'number' || !Number.isInteger(truncated) || truncated < 0) p.push('truncatedAlerts must be a whole number');
  const payload: AlertmanagerPayload = {
    version: '4',
    groupKey: str(body.groupKey, 'groupKey', p),
    truncatedAlerts: typeof truncated === 'number' ? truncated : 0,
    status: status as AlertmanagerPayload['status'],
    receiver: str(body.receiver, 'receiver', p),
    groupLabels: stringMap(body.groupLabels, 'groupLabels', p),
    commonLabels: stringMap(body.commonLabels, 'commonLabels', p),
    commonAnnotations: stringMap(body.commonAnnotations, 'commonAnnotations', p),
    externalURL: str(body.externalURL, 'externalURL', p),
    alerts: [],
  };
  body.alerts.forEach((a: unknown, i: number) => {
    const w = `alerts[${i}]`;
    if (!isObj(a)) {
      p.push(`${w} must be an object`);
      return;
    }
    if (a.status !== 'firing' && a.status !== 'resolved') p.push(`${w}.status must be "firing" or "resolved"`);
    const startsAt = str(a.startsAt, `${w}.startsAt`, p);
    const endsAt = str(a.endsAt, `${w}.endsAt`, p);
    if (startsAt && !RFC3339.test(startsAt)) p.push(`${w}.startsAt is not an RFC 3339 time`);
    if (endsAt && !RFC3339.test(endsAt)) p.push(`${w}.endsAt is not an RFC 3339 time`);
    const fingerprint = str(a.fingerprint, `${w}.fingerprint`, p);
    if (typeof a.fingerprint === 'string' && !/^[0-9a-f]{1,64}$/.test(fingerprint)) p.push(`${w}.fingerprint must be hexadecimal`);
    payload.alerts.push({
      status: a.status as AlertmanagerAlert['status'],
      labels: stringMap(a.labels, `${w}.labels`, p),
      annotations: stringMap(a.annotations ?? {}, `${w}.annotations`, p),
      startsAt,
      endsAt,
      generatorURL: str(a.generatorURL ?? '', `${w}.generatorURL`, p),
      fingerprint,
    });
  });
  return p.length > 0 ? { problems: p } : { payload };
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

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const RELEASE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The release an alert is about, or why it is not one we act on. */
export function alertTarget(a: AlertmanagerAlert, m: AlertMapping = DEFAULT_ALERT_MAPPING): { target: AlertTarget } | { reason: string } {
  const name = a.labels.alertname;
  if (!name || !m.alertnames.includes(name)) return { reason: `alertname ${JSON.stringify(name ?? null)} is not one helm-unstuck handles (${m.alertnames.join(', ')})` };
  const get = (k: keyof AlertMapping['labels']) => a.labels[m.labels[k]];
  const cluster = get('cluster');
  const namespace = get('namespace');
  const release = get('release');
  const revisionText = get('revision');
  if (!cluster) return { reason: `label ${m.labels.cluster} (cluster) is missing` };
  if (!namespace || namespace.length > 63 || !DNS_LABEL.test(namespace)) return { reason: `label ${m.labels.namespace} (namespace) is missing or not a namespace name` };
  if (!release || release.length > 53 || !RELEASE.test(release)) return { reason: `label ${m.labels.release} (release) is missing or not a Helm release name` };
  let revision: number | undefined;
  if (revisionText !== undefined) {
    revision = Number(revisionText);
    if (!Number.isInteger(revision) || revision < 1) return { reason: `label ${m.labels.revision} (revision) is not a revision number` };
  }
  return {
    target: {
      fingerprint: a.fingerprint,
      status: a.status,
      cluster,
      namespace,
      release,
      ...(revision !== undefined ? { revision } : {}),
      ...(a.annotations.summary ? { summary: a.annotations.summary } : {}),
      startsAt: a.startsAt,
      endsAt: a.endsAt,
    },
  };
}
