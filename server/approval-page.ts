// The approval page's routes: a list of incidents, and for one incident the evidence a human
// needs with approve and reject buttons. Every POST behind the login must come from our own
// pages: a same-origin Origin or Sec-Fetch-Site (hono/csrf), and the session's CSRF token.
// The decision is recorded under the logged-in user's name; the workflow itself still checks
// that name against its approvers.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { WORKFLOW_TYPE, decide } from '../client/remediation';
import { retriesOf } from '../client/retries';
import type { DecisionAction } from '../decisions/remediation';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import { csrfTokenMatches, sessions, type Session, type SessionOptions } from './session';
import { errorView, incidentView, incidentsView, loginView } from './views';

export interface ApprovalPageOptions extends SessionOptions {
  client: Client;
}

type PageEnv = { Variables: { session: Session; form: URLSearchParams } };

/** While an incident works on its own (not waiting for a human), its page reloads itself this often. */
const REFRESH_SECONDS = 3;
const MAX_FORM_BYTES = 16 * 1024;
const MAX_INCIDENTS = 500;

/** Host only, not scheme: behind a TLS proxy the browser's Origin is https, our own URL http. */
const sameOrigin = csrf({
  origin: (origin, c) => URL.canParse(origin) && new URL(origin).host === c.req.header('host'),
});

export type ApprovalPage = ReturnType<typeof approvalPage>;

export function approvalPage(o: ApprovalPageOptions): Hono<PageEnv> {
  const now = o.now ?? Date.now;
  const login = sessions(o);
  const app = new Hono<PageEnv>();

  /** A urlencoded form of at most MAX_FORM_BYTES, in c.var.form; else `refuse`'s page. */
  const form = (refuse: (c: Context<PageEnv>, status: 400 | 413) => Response | Promise<Response>): MiddlewareHandler<PageEnv> =>
    every(
      async (c: Context<PageEnv>, next) => {
        if (!/^application\/x-www-form-urlencoded\b/i.test(c.req.header('content-type') ?? '')) return refuse(c, 400);
        await next();
      },
      bodyLimit({ maxSize: MAX_FORM_BYTES, onError: (c) => refuse(c as Context<PageEnv>, 413) }),
      async (c: Context<PageEnv>, next) => {
        c.set('form', new URLSearchParams(await c.req.text()));
        await next();
      },
    );

  const headers = every(
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
  // Our paths only: the app is mounted at / beside the webhook.
  for (const path of ['/', '/login', '/logout', '/incidents', '/incidents/*']) app.use(path, headers);

  app.get('/', (c) => c.redirect('/incidents', 303));
  app.get('/login', (c) => c.html(loginView(c.req.query('next') ?? '/incidents')));
  app.post(
    '/login',
    form((c, status) => c.html(loginView('/incidents', status === 413 ? 'the login form is too large' : 'send the login form'), status === 413 ? 413 : 401)),
    async (c) => {
      const f = c.var.form;
      const user = login.userFor(f.get('token') ?? '');
      if (!user) return c.html(loginView(f.get('next') ?? '/incidents', 'unknown token'), 401);
      await login.start(c, user);
      const next = f.get('next') ?? '/incidents';
      return c.redirect(next.startsWith('/incidents') ? next : '/incidents', 303);
    },
  );

  // Everything below needs a session.
  const requireSession: MiddlewareHandler<PageEnv> = async (c, next) => {
    const s = await login.read(c);
    if (!s) return c.req.method === 'GET' ? c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303) : c.html(errorView('Log in', 'Log in first.'), 401);
    c.set('session', s);
    await next();
  };
  const forbidden = (c: Context<PageEnv>) => c.html(errorView('Forbidden', 'This form did not come from this page (CSRF check failed). Reload and try again.', c.var.session), 403);
  const fromOurPage = every(
    async (c: Context<PageEnv>, next) => {
      try {
        await sameOrigin(c, async () => undefined);
      } catch (err) {
        if (err instanceof HTTPException && err.status === 403) return forbidden(c);
        throw err;
      }
      await next();
    },
    form((c, status) => c.html(errorView(status === 413 ? 'Too large' : 'Bad request', status === 413 ? `The form is larger than ${MAX_FORM_BYTES} bytes.` : 'Send the form as a browser would.', c.var.session), status)),
    async (c: Context<PageEnv>, next) => (csrfTokenMatches(c.var.session, c.var.form.get('csrf')) ? next() : forbidden(c)),
  );
  for (const path of ['/incidents', '/incidents/*', '/logout']) app.use(path, requireSession);

  app.post('/logout', fromOurPage, (c) => {
    login.end(c);
    return c.redirect('/login', 303);
  });

  const list = async (c: Context<PageEnv>) => {
    const incidents: { workflowId: string; age: number }[] = [];
    for await (const w of o.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) {
      incidents.push({ workflowId: w.workflowId, age: now() - w.startTime.getTime() });
      if (incidents.length >= MAX_INCIDENTS) break;
    }
    return c.html(incidentsView(c.var.session, incidents));
  };
  app.get('/incidents', list);
  app.get('/incidents/', list);

  async function incident(c: Context<PageEnv>, id: string, error?: string): Promise<Response> {
    let st: RemediationStatus;
    try {
      const handle = o.client.workflow.getHandle(id);
      st = await handle.query(statusQuery);
      const retrying = retriesOf(await handle.describe(), now());
      if (retrying) st = { ...st, retrying };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return c.html(errorView('Not found', `No incident ${id}.`, c.var.session), 404);
      throw err;
    }
    // Reload while the workflow works on its own; never while a human is writing a decision, once
    // it has ended, or over an error the human has to read. By URL: an error page answers a POST.
    const working = !st.outcome && !st.hold && !error;
    const refresh = working ? { seconds: REFRESH_SECONDS, url: `/incidents/${id}` } : undefined;
    return c.html(incidentView(id, st, c.var.session, now(), { ...(error ? { error } : {}), ...(refresh ? { refresh } : {}) }), error ? 409 : 200);
  }

  app.get('/incidents/:id{.+}', (c) => incident(c, c.req.param('id')));
  app.post('/incidents/:id{.+}/decide', fromOurPage, async (c) => {
    const id = c.req.param('id');
    const f = c.var.form;
    try {
      const plan = f.get('plan');
      await decide(o.client, id, { action: f.get('action') as DecisionAction, by: c.var.session.user, reason: f.get('reason') ?? '', ...(plan ? { plan } : {}) });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) return incident(c, id, `Not accepted: ${err.cause?.message ?? err.message}`);
      if (err instanceof WorkflowNotFoundError) return incident(c, id);
      throw err;
    }
    return c.redirect(`/incidents/${id}`, 303);
  });
  return app;
}
