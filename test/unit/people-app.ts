// serve's app for people only, as serve assembles it: the approval page and the API over the same
// people (users, sign-in, the limiter, how a decision is sent), and a webhook that takes no alert.
import type { Hono } from 'hono';
import { DEFAULT_ALERT_MAPPING } from '../../decisions/alerts';
import { loadConfig } from '../../lib/config';
import { api } from '../../server/api';
import { approvalPage } from '../../server/approval-page';
import { createApp } from '../../server/http';
import { createMetrics } from '../../server/metrics';

export function peopleApp(people: Parameters<typeof api>[0], o: { metricsToken?: string } = {}): Hono {
  return createApp({
    config: { server: loadConfig({}).server, alerts: DEFAULT_ALERT_MAPPING },
    forwarder: { forward: () => Promise.reject(new Error('no alerts here')) },
    metrics: createMetrics(),
    log: () => undefined,
    approvalPage: approvalPage({ ...people, clusters: {} }),
    api: api(people),
    ...(o.metricsToken ? { metricsToken: o.metricsToken } : {}),
  });
}
