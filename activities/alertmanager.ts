// The one place that talks to Alertmanager: its v2 API, POST /api/v2/alerts. The workflow sends
// the alerts it means (decisions/alert-requests.ts); this adds the times and the incident page's
// link, posts them, and turns an answer other than 200 into our typed failures.
import { AlertPostSchema, incidentUrl, type AlertPost } from '../decisions/alert-requests';
import { check } from '../decisions/validation';
import { abortedBecause, requestSignal } from './attempt';
import { InvalidInputError } from './failures';

export const ALERTMANAGER_REQUEST_TIMEOUT_MS = 10_000;

export interface AlertmanagerSettings {
  /** Alertmanager's base URL (alertmanager.url); unset, nothing is posted. */
  url?: string;
  /** serve's external URL (server.externalUrl): each alert links to its incident's page there. */
  externalUrl?: string;
}

export type Delivery = { delivered: true; alerts: number; at: string } | { delivered: false; why: string };

/** Alertmanager refused or could not be reached: retried (the workflow's own loop decides for how long). */
export class AlertmanagerUnavailableError extends Error {
  override name = 'AlertmanagerUnavailableError';
}

export function createAlertmanagerActivities(settings: AlertmanagerSettings | undefined, now: () => number) {
  return {
    async postAlerts(input: AlertPost): Promise<Delivery> {
      const parsed = check(AlertPostSchema, input, 'postAlerts');
      if ('problems' in parsed) throw new InvalidInputError(`invalid alerts to post: ${parsed.problems.join('; ')}`);
      if (!settings?.url) return { delivered: false, why: 'alertmanager.url is not set' };
      const at = now();
      const body = parsed.data.alerts.map((a) => ({
        labels: a.labels,
        annotations: { ...a.annotations, ...(settings.externalUrl ? { url: incidentUrl(settings.externalUrl, parsed.data.incident) } : {}) },
        startsAt: a.startsAt,
        endsAt: new Date(at + (a.firingForMs ?? 0)).toISOString(),
      }));
      await post(settings.url, body);
      return { delivered: true, alerts: body.length, at: new Date(at).toISOString() };
    },
  };
}

async function post(base: string, body: unknown): Promise<void> {
  const url = `${base.replace(/\/+$/, '')}/api/v2/alerts`;
  const signal = requestSignal(ALERTMANAGER_REQUEST_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal, redirect: 'error' });
  } catch (err) {
    const why = signal.aborted ? abortedBecause(signal, ALERTMANAGER_REQUEST_TIMEOUT_MS) : ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    throw new AlertmanagerUnavailableError(`Alertmanager at ${base} could not be reached: ${why}`);
  }
  // Alertmanager answers 200 with an empty body; the text is read only to say why it did not.
  const text = (await res.text().catch(() => '')).slice(0, 200);
  if (res.status === 400) throw new InvalidInputError(`Alertmanager at ${base} refused the alerts (400): ${text}`);
  if (res.status !== 200) throw new AlertmanagerUnavailableError(`Alertmanager at ${base} answered ${res.status}${text ? `: ${text}` : ''}`);
}
