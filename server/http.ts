// `helm-unstuck serve`'s HTTP app (hono): the Alertmanager webhook, /metrics, /healthz, and the
// approval page when users are configured.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { ApprovalPage } from './approval-page';
import type { Metrics } from './metrics';
import { webhook, type WebhookDeps } from './webhook';

export { WEBHOOK_PATH } from './webhook';

export interface ServerDeps extends WebhookDeps {
  metrics: Metrics;
  /** The approval page's routes, when users are configured. */
  approvalPage?: ApprovalPage;
}

export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();
  app.use(
    secureHeaders({
      contentSecurityPolicy: { defaultSrc: ["'none'"], styleSrc: ["'unsafe-inline'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
      xFrameOptions: 'DENY',
      // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
      referrerPolicy: 'same-origin',
      // TLS (and HSTS with it) is the proxy's business.
      strictTransportSecurity: false,
    }),
    async (c, next) => {
      await next();
      c.res.headers.set('cache-control', 'no-store');
    },
  );
  app.route('/', webhook(deps));
  app.get('/metrics', async (c) => c.body(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
  app.all('/healthz', (c) => c.json({ ok: true }));
  if (deps.approvalPage) app.route('/', deps.approvalPage);
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    deps.log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
