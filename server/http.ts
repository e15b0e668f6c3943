// `helm-unstuck serve`'s HTTP app (hono): the Alertmanager webhook, /metrics (behind a bearer
// token when one is configured), /healthz, and the approval page and API when users or single
// sign-on are configured.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Api } from './api';
import type { ApprovalPage } from './approval-page';
import { Registry } from 'prom-client';
import type { Metrics } from './metrics';
import { bearerMatches, sendJson, webhook, type WebhookDeps } from './webhook';

export { WEBHOOK_PATH } from './webhook';

export interface ServerDeps extends WebhookDeps {
  metrics: Metrics;
  /** The approval page's routes, when users are configured. */
  approvalPage?: ApprovalPage;
  /** The API the CLI decides through (./api.ts). */
  api?: Api;
  /** When set, /metrics answers only `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** The stuck-release detector: its metrics follow serve's in /metrics, its status is in /healthz. */
  detector?: { registry: Registry; status(): unknown };
  /** Each configured cluster's admission policy, as last probed (activities/admission.ts). */
  admission?: { status(): unknown };
}

export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();
  app.route('/', webhook(deps));
  // One exposition of both registries; prom-client refuses a metric name registered in both.
  const exposed = deps.detector ? Registry.merge([deps.metrics.registry, deps.detector.registry]) : deps.metrics.registry;
  app.get('/metrics', async (c) => {
    if (deps.metricsToken && !bearerMatches(c.req.header('authorization'), deps.metricsToken)) {
      return sendJson(c, 401, { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
    }
    return c.body(await exposed.metrics(), 200, { 'content-type': exposed.contentType });
  });
  app.all('/healthz', (c) =>
    sendJson(c, 200, {
      ok: true,
      ...(deps.detector ? { detector: deps.detector.status() } : {}),
      ...(deps.admission ? { admissionPolicy: deps.admission.status() } : {}),
    }),
  );
  if (deps.api) app.route('/', deps.api);
  if (deps.approvalPage) app.route('/', deps.approvalPage);
  app.notFound((c) => sendJson(c, 404, { error: 'not found' }));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    deps.log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return sendJson(c, 500, { error: 'internal error' });
  });
  return app;
}
