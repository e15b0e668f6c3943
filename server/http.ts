// `helm-unstuck serve`'s HTTP app (hono): the Alertmanager webhook, /metrics, /healthz, and the
// approval page when users are configured.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ApprovalPage } from './approval-page';
import type { Registry } from 'prom-client';
import type { Metrics } from './metrics';
import { sendJson, webhook, type WebhookDeps } from './webhook';

export { WEBHOOK_PATH } from './webhook';

export interface ServerDeps extends WebhookDeps {
  metrics: Metrics;
  /** The approval page's routes, when users are configured. */
  approvalPage?: ApprovalPage;
  /** The stuck-release detector: its metrics follow serve's in /metrics, its status is in /healthz. */
  detector?: { registry: Registry; status(): unknown };
}

export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();
  app.route('/', webhook(deps));
  app.get('/metrics', async (c) => {
    const text = (await deps.metrics.registry.metrics()) + (deps.detector ? await deps.detector.registry.metrics() : '');
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });
  app.all('/healthz', (c) => sendJson(c, 200, { ok: true, ...(deps.detector ? { detector: deps.detector.status() } : {}) }));
  if (deps.approvalPage) app.route('/', deps.approvalPage);
  app.notFound((c) => sendJson(c, 404, { error: 'not found' }));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    deps.log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return sendJson(c, 500, { error: 'internal error' });
  });
  return app;
}
