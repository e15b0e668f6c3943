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
import { incidentStatus } from '../client/incidents';
import { incidentsQuery } from '../decisions/incident-search';
import { statusQuery, type RemediationStatus } from '../workflows/definitions';
import type { NamespaceScope } from '../decisions/namespaces';
import { releasePagePath } from '../decisions/vocabulary';
import type { DecisionSender } from './decide';
import { checkDecisionRequest } from './decision-request';
import type { LoginLimiter } from './rate-limit';
import { incidentPath, releaseAnswer, temporalRuns, type IncidentRuns } from './release-page';
import { csrfTokenMatches, sessions, tokenViewer, type SessionOptions, type Sessions, type Viewer } from './session';
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

/** What every route shares. */
interface Page {
  o: ApprovalPageOptions;
  now: () => number;
  login: Sessions;
  runs: IncidentRuns;
}

/** A urlencoded form of at most MAX_FORM_BYTES, in c.var.form; else `refuse`'s page. */
function formBody(refuse: (c: Context<PageEnv>, status: 400 | 413) => Response | Promise<Response>): MiddlewareHandler<PageEnv> {
  return every(
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
}

/** Every page of ours: a strict content security policy, no framing, never cached. */
const pageHeaders = every(
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
/** Our paths only: the app is mounted at / beside the webhook and the API. */
const PAGE_PATHS = ['/', '/login', '/logout', '/incidents', '/incidents/*', '/releases/*'];
/** The paths that need a verified viewer. */
const SIGNED_IN_PATHS = ['/incidents', '/incidents/*', '/releases/*', '/logout'];

/** /login: a token login's form, or (with single sign-on) no form at all. */
function loginRoutes(p: Page): Hono<PageEnv> {
  const app = new Hono<PageEnv>();
  if (p.o.sso) {
    app.on(['GET', 'POST'], '/', (c) => c.html(errorView('Single sign-on', 'This page signs you in through single sign-on; there is no login form.'), 404));
    return app;
  }
  app.get('/', (c) => c.html(loginView(returnTo(c.req.query('next')))));
  const refused = (c: Context<PageEnv>, status: 400 | 413) => c.html(loginView('/incidents', status === 413 ? 'the login form is too large' : 'send the login form'), status === 413 ? 413 : 401);
  app.post('/', formBody(refused), (c) => tokenLogin(p, c));
  return app;
}

/** A token login, counted against the limiter: a session cookie and back to where the viewer was going. */
async function tokenLogin(p: Page, c: Context<PageEnv>): Promise<Response> {
  const f = c.var.form;
  const r = await p.o.limiter.attempt(clientAddress(c), () => p.login.userFor(f.get('token') ?? ''));
  if (!r.ok && r.retryAfter > 0) return c.html(loginView('/incidents', `too many failed logins: try again in ${r.retryAfter}s`), 429, { 'retry-after': String(r.retryAfter) });
  if (!r.ok) return c.html(loginView(returnTo(f.get('next') ?? undefined), 'unknown token'), 401);
  await p.login.start(c, r.who);
  return c.redirect(returnTo(f.get('next') ?? undefined), 303);
}

/** The viewer, verified on every request: single sign-on's ID token, else a token login's session. */
function requireViewer(p: Page): MiddlewareHandler<PageEnv> {
  return async (c, next) => {
    if (p.o.sso) {
      const r = await p.o.sso.verify(c.req.header('authorization'));
      if (!r.ok) return c.html(errorView('Sign in', `Sign in through single sign-on: ${r.why}.`), 401);
      c.set('session', p.login.ssoViewer(r.identity));
      return next();
    }
    const s = await p.login.read(c);
    if (!s) return c.req.method === 'GET' ? c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303) : c.html(errorView('Log in', 'Log in first.'), 401);
    c.set('session', tokenViewer(s));
    await next();
  };
}

const forbidden = (c: Context<PageEnv>) => c.html(errorView('Forbidden', 'This form did not come from this page (CSRF check failed). Reload and try again.', c.var.session), 403);

/** A POST from one of our own pages: same origin, a small form, the viewer's CSRF token. */
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
  formBody((c, status) => c.html(errorView(status === 413 ? 'Too large' : 'Bad request', status === 413 ? `The form is larger than ${MAX_FORM_BYTES} bytes.` : 'Send the form as a browser would.', c.var.session), status)),
  async (c: Context<PageEnv>, next) => (csrfTokenMatches(c.var.session, c.var.form.get('csrf')) ? next() : forbidden(c)),
);

async function logout(p: Page, c: Context<PageEnv>): Promise<Response> {
  await p.login.end(c);
  // Single sign-on's session is the proxy's to end.
  return c.redirect(p.o.sso ? '/oauth2/sign_out' : '/login', 303);
}

/** A running incident's status, or undefined when it cannot be read now (the row says so). */
// A query waits for a worker: with none polling, the list must not wait with it.
async function statusWithin(client: Client, id: string): Promise<RemediationStatus | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STATUS_TIMEOUT_MS)));
  try {
    return await Promise.race([client.workflow.getHandle(id).query(statusQuery).catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The running incidents (at most MAX_INCIDENTS), each asked its status, STATUS_QUERIES at a time. */
async function runningIncidents(client: Client): Promise<IncidentRow[]> {
  const running: { workflowId: string; started: number }[] = [];
  for await (const w of client.workflow.list({ query: incidentsQuery({ running: true }) })) {
    running.push({ workflowId: w.workflowId, started: w.startTime.getTime() });
    if (running.length >= MAX_INCIDENTS) break;
  }
  const rows: IncidentRow[] = [];
  for (let i = 0; i < running.length; i += STATUS_QUERIES) {
    const batch = running.slice(i, i + STATUS_QUERIES);
    rows.push(...(await Promise.all(batch.map(async (w) => incidentRow(w.workflowId, w.started, await statusWithin(client, w.workflowId))))));
  }
  return rows;
}

/**
 * One incident's page, from incidentStatus: a running incident's own answer, a finished one's from
 * its history (no worker needed). `error` is a refused decision, shown above the evidence.
 */
async function incidentPage(p: Page, c: Context<PageEnv>, id: string, error?: string): Promise<Response> {
  let st: RemediationStatus;
  try {
    st = await incidentStatus(p.o.client, id);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return c.html(errorView('Not found', `No incident ${id}.`, c.var.session), 404);
    throw err;
  }
  // Reload while the workflow works on its own; never while a human is writing a decision, once
  // it has ended, or over an error the human has to read. By URL: an error page answers a POST.
  const working = !st.outcome && !st.hold && !error;
  const refresh = working ? { seconds: REFRESH_SECONDS, url: `/incidents/${id}` } : undefined;
  return c.html(incidentView(id, st, c.var.session, p.now(), { ...(error ? { error } : {}), ...(refresh ? { refresh } : {}) }), error ? 409 : 200);
}

/** A decision from the page's form, sent under the viewer's verified name; refused, the page says why. */
async function decideFromPage(p: Page, c: Context<PageEnv>): Promise<Response> {
  const id = c.req.param('id')!;
  const f = c.var.form;
  const plan = f.get('plan');
  // Browsers send a textarea's line breaks as CRLF; its maxlength counted them as one.
  const asked = { action: f.get('action') ?? '', reason: (f.get('reason') ?? '').replaceAll('\r\n', '\n'), ...(plan ? { plan } : {}) };
  const parsed = checkDecisionRequest(asked, c.var.session);
  if ('problems' in parsed) return c.html(errorView('Not sent', `Nothing was sent: ${parsed.problems.join('; ')}. Go back and correct it.`, c.var.session), 400);
  // The hold the page showed, by its number: a click on an older page answers nothing newer.
  const hold = Number(f.get('hold'));
  const r = await p.o.send(id, { ...parsed.data, ...(Number.isSafeInteger(hold) && hold > 0 ? { holdSeq: hold } : {}) }, c.var.session, 'page');
  if (!r.ok) return r.notFound ? incidentPage(p, c, id) : incidentPage(p, c, id, `Not accepted: ${r.refused}`);
  return c.redirect(`/incidents/${id}`, 303);
}

/** /incidents/<workflow id>: the page, and its decision form's POST. */
function incidentRoutes(p: Page): Hono<PageEnv> {
  const app = new Hono<PageEnv>();
  app.get('/:id{.+}', (c) => incidentPage(p, c, c.req.param('id')));
  app.post('/:id{.+}/decide', fromOurPage, (c) => decideFromPage(p, c));
  return app;
}

/** /releases/<cluster>/<namespace>/<release>: the running incident, else the release's incidents (./release-page.ts). */
function releaseRoutes(p: Page): Hono<PageEnv> {
  const app = new Hono<PageEnv>();
  app.get('/:cluster/:namespace/:release', async (c) => {
    const { cluster, namespace, release } = c.req.param();
    const a = await releaseAnswer(p.runs, p.o.clusters, cluster, namespace, release);
    if (a.kind === 'refused') return c.html(errorView(a.status === 400 ? 'Bad request' : 'Not found', a.why, c.var.session), a.status);
    if (a.kind === 'running') return c.redirect(incidentPath(a.workflowId), 303);
    const page = releasePagePath(encodeURIComponent(cluster), namespace, release);
    return c.html(releaseView(c.var.session, { cluster, namespace, release, page, incidentPage: incidentPath(a.workflowId), runs: a.runs, now: p.now(), refreshSeconds: REFRESH_SECONDS }));
  });
  app.get('*', (c) => c.html(errorView('Not found', 'A release\'s page is /releases/<cluster>/<namespace>/<release>.', c.var.session), 404));
  return app;
}

export type ApprovalPage = ReturnType<typeof approvalPage>;

export function approvalPage(o: ApprovalPageOptions): Hono<PageEnv> {
  const p: Page = { o, now: o.now ?? Date.now, login: sessions(o), runs: o.runs ?? temporalRuns(o.client) };
  const app = new Hono<PageEnv>();
  for (const path of PAGE_PATHS) app.use(path, pageHeaders);
  app.get('/', (c) => c.redirect('/incidents', 303));
  app.route('/login', loginRoutes(p));
  for (const path of SIGNED_IN_PATHS) app.use(path, requireViewer(p));
  app.post('/logout', fromOurPage, (c) => logout(p, c));
  app.on('GET', ['/incidents', '/incidents/'], async (c) => c.html(incidentsView(c.var.session, orderIncidents(await runningIncidents(o.client)), p.now())));
  app.route('/incidents', incidentRoutes(p));
  app.route('/releases', releaseRoutes(p));
  return app;
}
