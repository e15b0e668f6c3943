// `helm-unstuck serve`'s HTTP layer over real HTTP, without Temporal: the forwarder is ours, the
// Temporal client is a real one pointed at a port nobody listens on.
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createAdaptorServer } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { Metadata } from '@grpc/grpc-js';
import { DEFAULT_ALERT_MAPPING, type AlertTarget } from '../../decisions/alerts';
import { newSecretKey } from '../../decisions/decision-proof';
import { loadConfig } from '../../lib/config';
import { approvalPage } from '../../server/approval-page';
import { BoundedMemory } from '../../server/bounded-memory';
import { decisionSender } from '../../server/decide';
import { LoginLimiter } from '../../server/rate-limit';
import { AlertForwarder, ForwardError, UnavailableError, isConnectionFailure, type AlertResult } from '../../server/forwarder';
import { WEBHOOK_PATH, createApp } from '../../server/http';
import { RejectionLog } from '../../server/webhook';
import { counted, createMetrics } from '../../server/metrics';
import type { IncidentRun, IncidentRuns } from '../../server/release-page';
import { incidentView } from '../../server/views';
import type { RemediationStatus } from '../../workflows/definitions';
import { waitFor } from '../wait-for';

const TOKEN = 'unit-test-webhook-token';
const NOW = Date.parse('2026-12-08T01:00:00Z');
const ALICE = 'alice-unit-test-token';
const LIMIT = 4096;
const fixture = readFileSync(join(__dirname, '..', 'fixtures', 'alertmanager', 'firing-one-release.json'), 'utf8');

let forward: (t: AlertTarget) => Promise<AlertResult>;
const logs: string[] = [];
const truncatedCalls: [string, number][] = [];
const metrics = createMetrics();
// A real client that nothing answers: the approval page's routes tested here never call it.
const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
/** A release's runs as Temporal would tell them: the newest (describe) and the listed ones (visibility). */
const history: { latest: Map<string, IncidentRun>; listed: Map<string, IncidentRun[]>; asked: string[] } = { latest: new Map(), listed: new Map(), asked: [] };
const runs: IncidentRuns = {
  latest: async (id) => (history.asked.push(`latest ${id}`), history.latest.get(id)),
  list: async (id, max) => (history.asked.push(`list ${id} ${max}`), history.listed.get(id) ?? []),
};
const app = createApp({
  config: { server: { ...loadConfig({}).server, maxBodyBytes: LIMIT, webhookToken: TOKEN }, alerts: DEFAULT_ALERT_MAPPING },
  forwarder: { forward: (t) => forward(t), truncated: (cluster, n) => void truncatedCalls.push([cluster, n]) },
  metrics,
  log: (l) => logs.push(l),
  approvalPage: approvalPage({
    client,
    send: decisionSender(client, newSecretKey()),
    limiter: new LoginLimiter({ perClient: 1000, overall: 1000, windowMs: 60_000 }),
    users: { alice: createHash('sha256').update(ALICE).digest('hex') },
    clusters: { gprd: {}, 'ops?x=1': {}, scoped: { namespaces: ['gitlab'] } },
    runs,
    now: () => NOW,
  }),
});
let server: Server;
let url: string;
beforeAll(async () => {
  server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // fetch keeps an idle connection until 1 s before the server's keep-alive timeout (5 s by
  // default) ends it; on a loaded machine a test that runs for seconds without HTTP in between can
  // let fetch reuse one the server is closing (ECONNRESET). Idle gaps here are far below a minute.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  await client.connection.close();
});
beforeEach(() => {
  history.latest.clear();
  history.listed.clear();
  history.asked.length = 0;
  logs.length = 0;
  truncatedCalls.length = 0;
  forward = async () => ({ fingerprint: 'f', workflowId: 'w', result: 'started' });
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${WEBHOOK_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, body });

/** A request whose body is streamed (chunked), so no content-length announces its size. */
function postChunked(chunks: string[], contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(`${url}${WEBHOOK_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('the webhook', () => {
  test('a streamed body over the limit is 413 even without a content-length', async () => {
    const before = await counted(metrics.webhookRequests, { result: 'too_large' });
    const r = await postChunked(Array.from({ length: 8 }, () => 'x'.repeat(1024)));
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: `body larger than ${LIMIT} bytes` });
    expect(await counted(metrics.webhookRequests, { result: 'too_large' })).toBe(before + 1);
  });

  test('a declared body over the limit is 413 before it is read', async () => {
    const r = await post('x'.repeat(LIMIT + 1));
    expect([r.status, r.headers.get('connection')]).toEqual([413, 'close']);
  });

  test('a streamed body under the limit is read whole', async () => {
    const r = await postChunked([fixture.slice(0, 100), fixture.slice(100)]);
    expect(r.status).toBe(200);
  });

  test('a wrong content type is 415, not "body too large", however big the body', async () => {
    expect((await post('x'.repeat(LIMIT * 4), { 'content-type': 'text/plain' })).status).toBe(415);
  });

  test('other methods are 405 with Allow; unknown paths 404 JSON; JSON answers are not cached', async () => {
    const r = await fetch(`${url}${WEBHOOK_PATH}`);
    expect([r.status, r.headers.get('allow')]).toEqual([405, 'POST']);
    const nf = await fetch(`${url}/nowhere`);
    expect([nf.status, await nf.json(), nf.headers.get('cache-control'), nf.headers.get('x-content-type-options')]).toEqual([404, { error: 'not found' }, 'no-store', 'nosniff']);
  });

  test('Temporal unreachable is 503 with Retry-After; any other failure is 500 saying what it is, logged once', async () => {
    forward = async () => {
      throw new UnavailableError('could not reach Temporal for w: 14 UNAVAILABLE');
    };
    const u = await post(fixture);
    expect([u.status, u.headers.get('retry-after'), ((await u.json()) as { error: string }).error]).toEqual([503, '10', 'could not reach Temporal for w: 14 UNAVAILABLE']);
    expect(logs).toEqual([]);

    forward = async () => {
      throw new ForwardError('forwarding the alert to w failed: 5 NOT_FOUND: namespace x is not found', { cause: new Error('namespace x is not found') });
    };
    const f = await post(fixture);
    expect([f.status, ((await f.json()) as { error: string }).error]).toEqual([500, 'forwarding the alert to w failed: 5 NOT_FOUND: namespace x is not found']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^forwarding the alert to w failed: .*\n.*namespace x is not found/);

    forward = async () => {
      throw new TypeError('a bug');
    };
    const b = await post(fixture);
    expect([b.status, await b.json()]).toEqual([500, { error: 'internal error' }]);
    expect(logs).toHaveLength(2);
  });
});

describe('isConnectionFailure', () => {
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
  test.each([
    ['UNAVAILABLE', true, grpc(14, 'No connection established')],
    ['DEADLINE_EXCEEDED', true, grpc(4, 'Deadline exceeded')],
    ['UNAVAILABLE as the cause of a ServiceError', true, new Error('Failed to start workflow', { cause: grpc(14, 'connection refused') })],
    ['NOT_FOUND (no such namespace)', false, grpc(5, 'Namespace x is not found')],
    ['PERMISSION_DENIED', false, grpc(7, 'denied')],
    ['a plain error', false, new TypeError('x is undefined')],
  ])('%s → %s', (_w, expected, err) => {
    expect(isConnectionFailure(err)).toBe(expected);
  });

  test('a real client whose Temporal is not there fails with a connection failure', async () => {
    // No retry interceptor: the first UNAVAILABLE is the answer.
    const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', interceptors: [] }) });
    const err = await dead.workflow.start('x', { taskQueue: 'q', workflowId: 'w' }).catch((e: unknown) => e);
    expect(isConnectionFailure(err)).toBe(true);
    await dead.connection.close();
  });
});

describe('/metrics', () => {
  test('prom-client exposition with the registry content type and our names and help', async () => {
    metrics.stepSeconds.observe({ step: 'check-ci' }, 0.3);
    metrics.stuckReleases.set({ cluster: 'gstg' }, 2);
    const r = await fetch(`${url}/metrics`);
    expect(r.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await r.text();
    expect(text).toContain('# HELP helm_unstuck_alerts_total Alerts received, by result: started, joined, duplicate, resolved, rejected.\n# TYPE helm_unstuck_alerts_total counter');
    expect(text).toMatch(/^helm_unstuck_step_duration_seconds_bucket\{le="0\.5",step="check-ci"\} 1$/m);
    expect(text).toMatch(/^helm_unstuck_step_duration_seconds_bucket\{le="0\.1",step="check-ci"\} 0$/m);
    expect(text).toMatch(/^helm_unstuck_stuck_releases\{cluster="gstg"\} 2$/m);
  });

  test('each server has its own registry: the same names twice, counted apart', async () => {
    const [a, b] = [createMetrics(), createMetrics()];
    a.alerts.inc({ result: 'started' });
    expect([await counted(a.alerts, { result: 'started' }), await counted(b.alerts, { result: 'started' })]).toEqual([1, 0]);
  });
});

describe('the approval page, before Temporal is asked anything', () => {
  const form = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  async function session(): Promise<{ cookie: string; csrf: string }> {
    const r = await form('/login', `token=${ALICE}`);
    expect(r.status).toBe(303);
    const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    // Every logged-in page carries the token in its logout form, the 403 page too (no Temporal needed).
    const logout = await form('/logout', 'csrf=wrong', { cookie, origin: url });
    const csrf = /name="csrf" value="([^"]+)"/.exec(await logout.text())![1]!;
    return { cookie, csrf };
  }

  test('log out needs a same-origin Origin (or Sec-Fetch-Site) and the session CSRF token', async () => {
    const { cookie, csrf } = await session();
    const host = new URL(url).host;
    expect((await form('/logout', `csrf=${csrf}`, { cookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await form('/logout', `csrf=${csrf}`, { cookie, origin: 'null' })).status).toBe(403);
    expect((await form('/logout', `csrf=${csrf}`, { cookie })).status).toBe(403);
    expect((await form('/logout', `csrf=${csrf}`, { cookie, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await form('/logout', 'csrf=forged', { cookie, origin: url })).status).toBe(403);
    // Behind a TLS proxy the browser says https; the host is what must match.
    const out = await form('/logout', `csrf=${csrf}`, { cookie, origin: `https://${host}` });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^hu_session=; Max-Age=0;/);
    // That session has ended; another one logs out with Sec-Fetch-Site alone.
    expect((await form('/logout', `csrf=${csrf}`, { cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(401);
    const other = await session();
    expect((await form('/logout', `csrf=${other.csrf}`, { cookie: other.cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(303);
  });

  test('forms: not a form is 400, too large is 413, both as pages', async () => {
    const { cookie, csrf } = await session();
    const json = await form('/logout', '{}', { cookie, origin: url, 'content-type': 'application/json' });
    expect([json.status, json.headers.get('content-type')]).toEqual([400, 'text/html; charset=UTF-8']);
    const big = await form('/logout', `csrf=${csrf}&reason=${'x'.repeat(20_000)}`, { cookie, origin: url });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/The form is larger than 16384 bytes/);
    expect((await form('/login', `token=${'x'.repeat(20_000)}`)).status).toBe(413);
    expect((await form('/login', 'token=x', { 'content-type': 'text/plain' })).status).toBe(401);
  });

  test('its pages carry the strict headers, the webhook answers do not need them', async () => {
    const h = (await fetch(`${url}/login`)).headers;
    expect([h.get('content-security-policy'), h.get('x-frame-options'), h.get('referrer-policy'), h.get('cache-control')]).toEqual([
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", 'DENY', 'same-origin', 'no-store',
    ]);
    expect((await post(fixture)).headers.get('content-security-policy')).toBeNull();
  });

  test('without a session: GET redirects to the login, POST is 401', async () => {
    const g = await fetch(`${url}/incidents/a/b`, { redirect: 'manual' });
    expect([g.status, g.headers.get('location')]).toEqual([303, '/login?next=%2Fincidents%2Fa%2Fb']);
    expect((await form('/incidents/a/b/decide', 'action=approve')).status).toBe(401);
  });
});

describe("a release's page: /releases/<cluster>/<namespace>/<release>", () => {
  const ID = 'helm-unstuck/gprd/gitlab/gitlab';
  const PAGE = '/releases/gprd/gitlab/gitlab';
  const run = (runId: string, status: string, startedMinutesAgo: number, endedMinutesAgo?: number): IncidentRun => ({
    runId,
    status,
    startTime: new Date(NOW - startedMinutesAgo * 60_000),
    ...(endedMinutesAgo !== undefined ? { closeTime: new Date(NOW - endedMinutesAgo * 60_000) } : {}),
  });
  let cookie: string;
  beforeAll(async () => {
    const r = await fetch(`${url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ALICE}` });
    cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  });
  const get = (path: string) => fetch(`${url}${path}`, { redirect: 'manual', headers: { cookie } });

  test('behind the same login as the page: a GET without a session goes to the login and comes back', async () => {
    const r = await fetch(`${url}${PAGE}`, { redirect: 'manual' });
    expect([r.status, r.headers.get('location')]).toEqual([303, '/login?next=%2Freleases%2Fgprd%2Fgitlab%2Fgitlab']);
    expect(await (await fetch(`${url}/login?next=${encodeURIComponent(PAGE)}`)).text()).toContain(`name="next" value="${PAGE}"`);
    const login = (next: string) => fetch(`${url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ALICE}&next=${encodeURIComponent(next)}` });
    expect((await login(PAGE)).headers.get('location')).toBe(PAGE);
    // Only our own pages: never another site, nor a path that merely starts like ours.
    for (const next of ['https://evil.example/releases/a', '//evil.example/releases', '/releasesevil', '/\\evil.example']) {
      expect((await login(next)).headers.get('location')).toBe('/incidents');
    }
    expect(history.asked).toEqual([]);
    expect((await get(PAGE)).headers.get('cache-control')).toBe('no-store');
  });

  test('an incident running: 303 to its page (the workflow id is workflowIdFor)', async () => {
    history.latest.set(ID, run('r2', 'RUNNING', 3));
    const r = await get(PAGE);
    expect([r.status, r.headers.get('location')]).toEqual([303, `/incidents/${ID}`]);
    expect(history.asked).toEqual([`latest ${ID}`]);
    // A cluster name that needs escaping stays one segment of the incident's path.
    history.latest.set('helm-unstuck/ops?x=1/gitlab/gitlab', run('r1', 'RUNNING', 1));
    expect((await get('/releases/ops%3Fx%3D1/gitlab/gitlab')).headers.get('location')).toBe('/incidents/helm-unstuck/ops%3Fx%3D1/gitlab/gitlab');
  });

  test('none running: the release\'s incidents, newest first, the newest linked even before visibility lists it', async () => {
    history.latest.set(ID, run('r3', 'COMPLETED', 10, 2));
    history.listed.set(ID, [run('r1', 'TERMINATED', 300, 290), run('r2', 'COMPLETED', 60, 50)]);
    const r = await get(PAGE);
    expect(r.status).toBe(200);
    const page = await r.text();
    const rows = [...page.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
    expect(rows).toEqual([
      'latest incident completed started 10m ago, ended 2m ago',
      'earlier incident r2 completed started 1h00m ago, ended 50m ago',
      'earlier incident r1 terminated started 5h00m ago, ended 4h50m ago',
    ]);
    expect(page).toContain(`<a href="/incidents/${ID}">latest incident</a>`);
    expect(page).not.toContain('http-equiv="refresh"');
    expect(history.asked).toEqual([`latest ${ID}`, `list ${ID} 50`]);
  });

  test('no incident yet (the alert can come first): said so, and the page looks again', async () => {
    const r = await get(PAGE);
    const page = await r.text();
    expect(r.status).toBe(200);
    expect(page).toContain('No incident for this release yet');
    expect(page).toContain(`<meta http-equiv="refresh" content="3; url=${PAGE}">`);
  });

  test.each([
    ['an unknown cluster', '/releases/gstg/gitlab/gitlab', 404, 'No cluster &quot;gstg&quot; is configured here.'],
    ['a cluster that is a path', '/releases/ops%2Fgprd/gitlab/gitlab', 404, 'No cluster &quot;ops/gprd&quot; is configured here.'],
    ['a namespace that is not a name', '/releases/gprd/Git_Lab/gitlab', 400, 'namespace &quot;Git_Lab&quot; is not a valid Kubernetes namespace name'],
    ['a release that is not a name', '/releases/gprd/gitlab/a..b', 400, 'release name &quot;a..b&quot; is not a valid Helm release name'],
    ['a huge release name', `/releases/gprd/gitlab/${'x'.repeat(8000)}`, 400, `release name &quot;${'x'.repeat(64)}…&quot; is longer than 53 characters`],
    ['markup in a name', '/releases/gprd/%3Cscript%3E/gitlab', 400, 'namespace &quot;&lt;script&gt;&quot; is not'],
    ['a namespace helm-unstuck may not act in', '/releases/scoped/web/shop', 404, 'namespace &quot;web&quot; is not among the namespaces allowed in cluster &quot;scoped&quot;'],
    ['too few segments', '/releases/gprd/gitlab', 404, 'A release&#39;s page is /releases/&lt;cluster&gt;/&lt;namespace&gt;/&lt;release&gt;.'],
    ['too many segments', '/releases/gprd/gitlab/gitlab/x', 404, 'A release&#39;s page is'],
  ])('%s: a clear %i page, and Temporal is not asked', async (_what, path, status, why) => {
    const r = await get(path);
    expect([r.status, r.headers.get('content-type')]).toEqual([status, 'text/html; charset=UTF-8']);
    expect(await r.text()).toContain(why);
    expect(history.asked).toEqual([]);
  });
});

describe('incidentView', () => {
  const status = (o: Partial<RemediationStatus> = {}): RemediationStatus =>
    ({ step: 'approval', hold: 'approval', waitingFor: 'a human', escalations: 0, evidence: [{ at: '2026-01-01T00:00:00Z', step: 'ci', summary: '<script>alert(1)</script>', ok: false }], view: { health: { summary: 'ok', healthy: true, deployments: [] } }, ...o }) as unknown as RemediationStatus;
  const render = (id: string, st: RemediationStatus) => String(incidentView(id, st, { user: 'al"ice', csrf: 'tok"en', verifiedBy: 'token', groups: [] }, Date.now()));

  test('escapes everything it interpolates, in text and in attributes', () => {
    const out = render('x" onmouseover="y', status());
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('action="/incidents/x&quot; onmouseover=&quot;y/decide"');
    expect(out).toContain('value="tok&quot;en"');
  });

  test('what the interrupted upgrade already applied: the sentence, and each object in words', () => {
    const applied = {
      summary: 'the interrupted upgrade applied 0 of 1 objects: the next deploy will change these 1 (Deployment app/web)',
      objects: [
        { kind: 'Deployment', namespace: 'app', name: 'web', verdict: 'not-applied' as const },
        { kind: 'Secret', namespace: 'app', name: 'token', verdict: 'unreadable' as const },
      ],
    };
    const out = render('w', status({ view: { applied } }));
    expect(out).toMatch(/<th>Already applied<\/th><td class="bad">the interrupted upgrade applied 0 of 1 objects: the next deploy will change these 1 \(Deployment app\/web\)<\/td>/);
    expect(out).toContain('<li>Deployment <code>app/web</code>: still as the last deployed revision left it (the next deploy changes it)</li>');
    expect(out).toContain('<li>Secret <code>app/token</code>: could not be read</li>');
  });

  test('no Deployments, no plan: no sections, and no stray 0', () => {
    const out = render('w', status());
    expect(out).not.toContain('id="deployments"');
    expect(out).not.toMatch(/>\s*0\s*</);
  });
});

describe('hostile webhooks: bounded, logged once, nothing unvalidated in a label', () => {
  const payload = (alerts: object[], extra: object = {}) => {
    const base = JSON.parse(fixture) as { alerts: Record<string, unknown>[] };
    return JSON.stringify({ ...base, ...extra, alerts });
  };
  const alert = (i: number, labels: Record<string, string> = {}) => {
    const a = (JSON.parse(fixture) as { alerts: { labels: Record<string, string> }[] }).alerts[0]!;
    return { ...a, fingerprint: i.toString(16).padStart(16, '0'), labels: { ...a.labels, label_name: `r${i}`, ...labels } };
  };

  test('a group of 3,000 alerts is answered per alert, never more than 16 forwarded at once', async () => {
    const big = createApp({ config: { server: { ...loadConfig({}).server, maxBodyBytes: 8 << 20, webhookToken: TOKEN }, alerts: DEFAULT_ALERT_MAPPING }, forwarder: { forward: (t) => forward(t) }, metrics: createMetrics(), log: (l) => logs.push(l) });
    let inFlight = 0;
    let most = 0;
    forward = async (t) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return { fingerprint: t.fingerprint, workflowId: `w/${t.release}`, result: 'started' };
    };
    const r = await big.request(WEBHOOK_PATH, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: payload(Array.from({ length: 3000 }, (_, i) => alert(i))) });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { accepted: AlertResult[]; rejected: AlertResult[] };
    expect([body.accepted.length, body.rejected.length]).toEqual([3000, 0]);
    expect(most).toBe(16);
  });

  test('oversized fields are refused naming the field, never cut short: a long summary or a flood of labels refuses its alert alone', async () => {
    const forwarded: AlertTarget[] = [];
    forward = async (t) => {
      forwarded.push(t);
      return { fingerprint: t.fingerprint, workflowId: `w/${t.release}`, result: 'started' };
    };
    const long = { ...alert(1), annotations: { summary: 's'.repeat(1001) } };
    const r = await post(payload([long, alert(2)]));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { rejected: unknown[] }).rejected).toEqual([{ fingerprint: '0000000000000001', result: 'rejected', reason: 'annotation summary is too long (1001 characters, at most 1000)' }]);
    expect(forwarded.map((t) => t.release)).toEqual(['r2']);
    expect(logs).toEqual([expect.stringMatching(/^rejected 1 alert\(s\) of group ".*": annotation summary is too long \(1001 characters, at most 1000\) \(0000000000000001\)$/)]);

    // A flood of labels refuses its alert alone; the rest of its group is handled (issue 23).
    const flood = await post(payload([alert(3, Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`l${i}`, 'v']))), alert(4)]));
    expect(flood.status).toBe(200);
    expect(((await flood.json()) as { rejected: unknown[] }).rejected).toEqual([{ fingerprint: '0000000000000003', result: 'rejected', reason: 'alerts[0].labels has more than 128 entries' }]);
    expect(forwarded.map((t) => t.release)).toEqual(['r2', 'r4']);
  });

  test('each rejected alert is logged once with its reason, aggregated by reason; a resend logs nothing', async () => {
    const alerts = [alert(1, { alertname: 'Other' }), alert(2, { alertname: 'Other' }), alert(3, { label_name: 'Not_A_Release' }), alert(4)];
    const first = await post(payload(alerts));
    expect(first.status).toBe(200);
    expect(logs).toEqual([
      expect.stringMatching(/^rejected 2 alert\(s\) of group ".*": alertname "Other" is not one helm-unstuck handles .*\(0000000000000001, 0000000000000002\)$/),
      expect.stringMatching(/^rejected 1 alert\(s\) of group ".*": label label_name \(release\) is missing or not a Helm release name \(0000000000000003\)$/),
    ]);
    for (let i = 0; i < 5; i++) expect((await post(payload(alerts))).status).toBe(200);
    expect(logs).toHaveLength(2);
    // Many distinct reasons in one request: a few lines, the rest counted in one.
    const many = new RejectionLog((l) => logs.push(l));
    many.note('g', Array.from({ length: 40 }, (_, i) => ({ fingerprint: `f${i}`, reason: `reason ${i}` })));
    expect(logs).toHaveLength(2 + 5 + 1);
    expect(logs.at(-1)).toBe('rejected 35 more alert(s) of group "g" for 35 other reason(s)');
  });

  test.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('cluster %s is not a cluster: rejected, and no metric series names it', async (cluster) => {
    const m = createMetrics();
    const fwd = new AlertForwarder(client, { clusters: Object.assign(Object.create(null) as Record<string, never>, { gstg: { gitlab: [] } }), taskQueue: 'q' }, m);
    const a = createApp({ config: { server: { ...loadConfig({}).server, maxBodyBytes: LIMIT, webhookToken: TOKEN }, alerts: DEFAULT_ALERT_MAPPING }, forwarder: fwd, metrics: m, log: (l) => logs.push(l) });
    const r = await a.request(WEBHOOK_PATH, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: payload([alert(1, { cluster })], { truncatedAlerts: 3, commonLabels: { cluster } }) });
    expect(r.status).toBe(422);
    expect(((await r.json()) as { rejected: { reason: string }[] }).rejected[0]!.reason).toBe(`cluster "${cluster}" is not configured`);
    const exposed = await m.registry.metrics();
    expect(exposed).not.toMatch(/cluster=/);
    expect(await counted(m.truncationScans, { result: 'scanned' }) + (await counted(m.truncationScans, { result: 'skipped' }))).toBe(0);
  });

  test("an alert for a namespace the cluster does not allow starts nothing: rejected naming both, logged once, counted", async () => {
    const m = createMetrics();
    const clusters = Object.assign(Object.create(null) as Record<string, { gitlab: never[]; namespaces?: string[] }>, { 'gprd-us-east1-b': { gitlab: [], namespaces: ['monitoring'] } });
    // A real client nothing answers: had the forwarder called Temporal, the answer would be 503, not 422.
    const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', interceptors: [] }) });
    const fwd = new AlertForwarder(dead, { clusters, taskQueue: 'q' }, m);
    const a = createApp({ config: { server: { ...loadConfig({}).server, maxBodyBytes: LIMIT, webhookToken: TOKEN }, alerts: DEFAULT_ALERT_MAPPING }, forwarder: fwd, metrics: m, log: (l) => logs.push(l) });
    const send = () => a.request(WEBHOOK_PATH, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: payload([alert(1)]) });
    for (let i = 0; i < 3; i++) {
      const r = await send();
      expect(r.status).toBe(422);
      expect(((await r.json()) as { rejected: { reason: string }[] }).rejected[0]!.reason).toBe('namespace "gitlab" is not among the namespaces allowed in cluster "gprd-us-east1-b" (clusters.gprd-us-east1-b.namespaces)');
    }
    expect(logs).toEqual([expect.stringMatching(/^rejected 1 alert\(s\) of group ".*": namespace "gitlab" is not among the namespaces allowed in cluster "gprd-us-east1-b" .*\(0000000000000001\)$/)]);
    expect(await counted(m.alertsNamespaceRefused, { cluster: 'gprd-us-east1-b' })).toBe(3);
    expect(await m.registry.metrics()).not.toMatch(/helm_unstuck_stuck_releases\{/);
    // An allowed namespace goes on to Temporal (here: nobody answers, 503).
    clusters['gprd-us-east1-b']!.namespaces = ['gitlab'];
    expect((await send()).status).toBe(503);
    await dead.connection.close();
  });

  test('a truncated group is logged, counted, and its cluster handed to the scan; the answer says so', async () => {
    const before = await counted(metrics.alertsTruncated, {});
    const r = await post(payload([alert(1)], { truncatedAlerts: 7 }));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { warning: string }).warning).toMatch(/dropped 7 alerts .*scans the cluster/);
    expect(await counted(metrics.alertsTruncated, {})).toBe(before + 7);
    expect(truncatedCalls).toEqual([['gprd-us-east1-b', 7]]);
    expect(logs).toEqual([expect.stringMatching(/^Alertmanager left 7 alert\(s\) out of group ".*" \(max_alerts\); scanning cluster\(s\) "gprd-us-east1-b"/)]);
  });

  test('an aborted request body is one log line, not a stack trace', async () => {
    for (const headers of [{ 'transfer-encoding': 'chunked' }, { 'content-length': '1000' }]) {
      logs.length = 0;
      await new Promise<void>((done) => {
        const req = request(`${url}${WEBHOOK_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers } });
        req.on('error', () => undefined);
        // The sender goes away once the server has the request, its handler reading the body.
        server.once('request', () => {
          req.destroy();
          done();
        });
        req.write('{"version":');
      });
      const logged = await waitFor('the aborted body logged', () => [...logs], (l) => l.length > 0);
      expect(logged).toEqual(['webhook request body not received whole: aborted']);
    }
  });
});

describe('BoundedMemory', () => {
  test('forgets what is older than the TTL, and never holds more than the cap', () => {
    let now = 1000;
    const m = new BoundedMemory<number>(3, 100, () => now);
    for (const k of ['a', 'b', 'c']) m.set(k, 1);
    m.set('a', 2); // a re-written key is among the newest
    m.set('d', 1);
    m.set('e', 1);
    expect(m.size).toBe(3);
    expect([m.get('a'), m.get('d'), m.get('e'), m.get('b'), m.get('c')]).toEqual([2, 1, 1, undefined, undefined]);
    now = 1050;
    m.set('d', 3); // a re-written key lives a TTL from now
    now = 1100;
    expect(m.get('e')).toBe(1); // a read does not extend its life
    now = 1101;
    expect([m.get('e'), m.get('a'), m.size]).toEqual([undefined, undefined, 1]);
    now = 1151;
    expect([m.get('d'), m.size]).toEqual([undefined, 0]);
  });

  // How fast is a benchmark's question (bench/), never a timed assertion on a shared machine.
  test('100,000 distinct keys: at most the cap held, the newest kept', () => {
    const m = new BoundedMemory<true>(10_000, 60_000);
    for (let i = 0; i < 100_000; i++) m.set(`k${i}`, true);
    expect(m.size).toBeLessThanOrEqual(10_000);
    expect(Array.from({ length: 5_000 }, (_, i) => m.get(`k${99_999 - i}`)).every(Boolean)).toBe(true);
  });
});
