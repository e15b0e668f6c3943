// The approval page's routes: a list of incidents, for one incident the evidence a human needs
// with approve and reject buttons, and a release's stable page (./release-page.ts). Every POST
// behind the login must come from our own pages: a same-origin Origin or Sec-Fetch-Site
// (hono/csrf), and the viewer's CSRF token.
// Who is looking is proven either by single sign-on (the ID token oauth2-proxy passes, verified on
// every request; no login form) or by a token login's signed session cookie. The decision is sent
// under that verified name, signed by serve; the workflow checks the signature and the approvers.
import { getConnInfo } from '@hono/node-server/conninfo';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { incidentsQuery } from '../decisions/incident-search';
import { retriesOf } from '../client/retries';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import type { NamespaceScope } from '../decisions/namespaces';
import { releasePagePath } from '../decisions/remediation';
import type { DecisionSender } from './decide';
import { checkDecisionRequest } from './decision-request';
import type { LoginLimiter } from './rate-limit';
import { incidentPath, releaseAnswer, temporalRuns, type IncidentRuns } from './release-page';
import { csrfTokenMatches, sessions, tokenViewer, type SessionOptions, type Viewer } from './session';
import type { SsoVerifier } from './sso';
import { incidentRow, orderIncidents, type IncidentRow } from './incident-list';
import { errorView, incidentView, incidentsView, loginView, releaseView } from './views';

export interface ApprovalPageOptions extends SessionOptions {
  client: Client;
  /** Signs and sends a decision. */
  send: DecisionSender;
  /** Single sign-on: when set, the only way in (no login form). */
  sso?: SsoVerifier;
  /** Failed token logins, per client address and overall. */
  limiter: LoginLimiter;
  /** The configured clusters (config.clusters): a release's page exists only in these. */
  clusters: Record<string, NamespaceScope>;
  /** A release's incidents (default: Temporal's, through `client`). */
  runs?: IncidentRuns;
}

type PageEnv = { Variables: { session: Viewer; form: URLSearchParams } };

/** The connecting address (behind a proxy: the proxy's). */
export const clientAddress = (c: Context): string => {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
};

/** While an incident works on its own (not waiting for a human), its page reloads itself this often. */
const REFRESH_SECONDS = 3;
const MAX_FORM_BYTES = 16 * 1024;
const MAX_INCIDENTS = 500;
/** The list asks this many incidents for their status at a time, and waits this long for each. */
const STATUS_QUERIES = 8;
const STATUS_TIMEOUT_MS = 3000;

/** Where a login may return to: our own pages only, never another site. */
const returnTo = (next: string | undefined): string => (next && /^\/(incidents|releases)(\/|$)/.test(next) ? next : '/incidents');

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
  for (const path of ['/', '/login', '/logout', '/incidents', '/incidents/*', '/releases/*']) app.use(path, headers);

  app.get('/', (c) => c.redirect('/incidents', 303));
  const noLoginForm = (c: Context<PageEnv>) => c.html(errorView('Single sign-on', 'This page signs you in through single sign-on; there is no login form.'), 404);
  app.get('/login', (c) => (o.sso ? noLoginForm(c) : c.html(loginView(returnTo(c.req.query('next'))))));
  app.post(
    '/login',
    async (c, next) => (o.sso ? noLoginForm(c) : next()),
    form((c, status) => c.html(loginView('/incidents', status === 413 ? 'the login form is too large' : 'send the login form'), status === 413 ? 413 : 401)),
    async (c) => {
      const f = c.var.form;
      const r = await o.limiter.attempt(clientAddress(c), () => login.userFor(f.get('token') ?? ''));
      if (!r.ok && r.retryAfter > 0) return c.html(loginView('/incidents', `too many failed logins: try again in ${r.retryAfter}s`), 429, { 'retry-after': String(r.retryAfter) });
      if (!r.ok) return c.html(loginView(returnTo(f.get('next') ?? undefined), 'unknown token'), 401);
      await login.start(c, r.who);
      return c.redirect(returnTo(f.get('next') ?? undefined), 303);
    },
  );

  // Everything below needs a verified viewer: single sign-on's ID token, else a token login's session.
  const requireSession: MiddlewareHandler<PageEnv> = async (c, next) => {
    if (o.sso) {
      const r = await o.sso.verify(c.req.header('authorization'));
      if (!r.ok) return c.html(errorView('Sign in', `Sign in through single sign-on: ${r.why}.`), 401);
      c.set('session', login.ssoViewer(r.identity));
      return next();
    }
    const s = await login.read(c);
    if (!s) return c.req.method === 'GET' ? c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303) : c.html(errorView('Log in', 'Log in first.'), 401);
    c.set('session', tokenViewer(s));
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
  for (const path of ['/incidents', '/incidents/*', '/releases/*', '/logout']) app.use(path, requireSession);

  app.post('/logout', fromOurPage, async (c) => {
    await login.end(c);
    // Single sign-on's session is the proxy's to end.
    return c.redirect(o.sso ? '/oauth2/sign_out' : '/login', 303);
  });

  /** A running incident's status, or undefined when it cannot be read now (the row says so). */
  // A query waits for a worker: with none polling, the list must not wait with it.
  const statusOf = async (id: string): Promise<RemediationStatus | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STATUS_TIMEOUT_MS)));
    try {
      return await Promise.race([o.client.workflow.getHandle(id).query(statusQuery).catch(() => undefined), late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const list = async (c: Context<PageEnv>) => {
    const running: { workflowId: string; started: number }[] = [];
    for await (const w of o.client.workflow.list({ query: incidentsQuery({ running: true }) })) {
      running.push({ workflowId: w.workflowId, started: w.startTime.getTime() });
      if (running.length >= MAX_INCIDENTS) break;
    }
    const rows: IncidentRow[] = [];
    for (let i = 0; i < running.length; i += STATUS_QUERIES) {
      const batch = running.slice(i, i + STATUS_QUERIES);
      rows.push(...(await Promise.all(batch.map(async (w) => incidentRow(w.workflowId, w.started, await statusOf(w.workflowId))))));
    }
    return c.html(incidentsView(c.var.session, orderIncidents(rows), now()));
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
    const plan = f.get('plan');
    // Browsers send a textarea's line breaks as CRLF; its maxlength counted them as one.
    const asked = { action: f.get('action') ?? '', reason: (f.get('reason') ?? '').replaceAll('\r\n', '\n'), ...(plan ? { plan } : {}) };
    const parsed = checkDecisionRequest(asked, c.var.session);
    if ('problems' in parsed) return c.html(errorView('Not sent', `Nothing was sent: ${parsed.problems.join('; ')}. Go back and correct it.`, c.var.session), 400);
    // The hold the page showed, by its number: a click on an older page answers nothing newer.
    const hold = Number(f.get('hold'));
    const r = await o.send(id, { ...parsed.data, ...(Number.isSafeInteger(hold) && hold > 0 ? { holdSeq: hold } : {}) }, c.var.session, 'page');
    if (!r.ok) return r.notFound ? incident(c, id) : incident(c, id, `Not accepted: ${r.refused}`);
    return c.redirect(`/incidents/${id}`, 303);
  });

  const runs = o.runs ?? temporalRuns(o.client);
  app.get('/releases/:cluster/:namespace/:release', async (c) => {
    const { cluster, namespace, release } = c.req.param();
    const a = await releaseAnswer(runs, o.clusters, cluster, namespace, release);
    if (a.kind === 'refused') return c.html(errorView(a.status === 400 ? 'Bad request' : 'Not found', a.why, c.var.session), a.status);
    if (a.kind === 'running') return c.redirect(incidentPath(a.workflowId), 303);
    const page = releasePagePath(encodeURIComponent(cluster), namespace, release);
    return c.html(releaseView(c.var.session, { cluster, namespace, release, page, incidentPage: incidentPath(a.workflowId), runs: a.runs, now: now(), refreshSeconds: REFRESH_SECONDS }));
  });
  app.get('/releases/*', (c) => c.html(errorView('Not found', 'A release\'s page is /releases/<cluster>/<namespace>/<release>.', c.var.session), 404));
  return app;
}
