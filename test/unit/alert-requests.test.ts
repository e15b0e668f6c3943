// Requests as alerts: what the workflow builds (decisions/alert-requests.ts) and what the one
// adapter (activities/alertmanager.ts) sends, against a local HTTP server standing in for
// Alertmanager's v2 API.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlertmanagerUnavailableError, createAlertmanagerActivities } from '../../activities/alertmanager';
import { InvalidInputError } from '../../activities/failures';
import { decisionRequired, describePost, incidentUrl, needsAttention, REQUEST_LIFETIME_MS, resolved, severityAfter, type AlertPost } from '../../decisions/alert-requests';

const where = { cluster: 'gprd', namespace: 'gitlab', release: 'web', incident: 'helm-unstuck/gprd/gitlab/web' };
const plan = { digest: '0123456789ab', words: 'back up and delete sh.helm.release.v1.web.v3 (pending-upgrade, uid u-1)' };
const NOW = Date.parse('2026-12-08T00:00:00Z');

describe('the alerts the workflow builds', () => {
  test('a hold asks with its plan (approval only), warning, then critical once it escalated', () => {
    const a = decisionRequired(where, 'approval', { severity: severityAfter(0), waitingFor: 'approval by alice', since: '2026-12-08T00:00:00.000Z', plan, escalateAfterMs: 15 * 60_000 });
    expect(a.labels).toEqual({ alertname: 'HelmUnstuckDecisionRequired', ...where, hold: 'approval', severity: 'warning' });
    expect(a.annotations).toEqual({ summary: 'gprd/gitlab/web is stuck and waits for approval to unlock it', description: 'waiting for approval by alice', plan: plan.words, plan_digest: plan.digest });
    expect(a.firingForMs).toBe(REQUEST_LIFETIME_MS);
    expect(severityAfter(1)).toBe('critical');
    const ci = decisionRequired(where, 'ci-busy', { severity: 'critical', waitingFor: 'a human', since: '2026-12-08T00:00:00.000Z', plan, escalateAfterMs: 30 * 24 * 3600_000 });
    expect(ci.annotations).not.toHaveProperty('plan');
    expect(ci.annotations.summary).toMatch(/\(overdue\)$/);
    expect(ci.firingForMs).toBe(60 * 24 * 3600_000);
    expect(resolved(a)).not.toHaveProperty('firingForMs');
    expect(describePost([resolved(a), ci])).toBe('HelmUnstuckDecisionRequired (approval, warning) resolved, HelmUnstuckDecisionRequired (ci-busy, critical) raised');
  });

  test('an ending that needs a human says its outcome and reason', () => {
    const a = needsAttention(where, 'needs-review', 'the dry run would change 2 objects', '2026-12-08T00:00:00.000Z');
    expect(a.labels).toEqual({ alertname: 'HelmUnstuckNeedsAttention', ...where, outcome: 'needs-review', severity: 'warning' });
    expect(a.annotations.reason).toBe('the dry run would change 2 objects');
    expect(needsAttention(where, 'failed', 'x'.repeat(5000), '').annotations.reason).toHaveLength(2000);
  });

  test("the incident's page, on serve's external URL", () => {
    expect(incidentUrl('https://hu.example.com/', where.incident)).toBe('https://hu.example.com/incidents/helm-unstuck/gprd/gitlab/web');
    expect(incidentUrl('https://hu.example.com/base', 'a b/c')).toBe('https://hu.example.com/base/incidents/a%20b/c');
  });
});

describe('the Alertmanager adapter', () => {
  let server: Server;
  let url: string;
  let answer = { status: 200, body: '' };
  const got: { method?: string; url?: string; body: unknown }[] = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        got.push({ method: req.method, url: req.url, body: JSON.parse(text) });
        res.writeHead(answer.status).end(answer.body);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
  beforeEach(() => {
    got.length = 0;
    answer = { status: 200, body: '' };
  });

  const raisedAndResolved = (): AlertPost => {
    const a = decisionRequired(where, 'approval', { severity: 'warning', waitingFor: 'alice', since: '2026-12-07T23:00:00.000Z', plan, escalateAfterMs: 60_000 });
    return { incident: where.incident, alerts: [resolved(a), { ...a, labels: { ...a.labels, severity: 'critical' } }] };
  };

  test('posts to the v2 API: the page link added, a raised alert ending far ahead, a resolved one ending now', async () => {
    const { postAlerts } = createAlertmanagerActivities({ url: `${url}/`, externalUrl: 'https://hu.example.com' }, () => NOW);
    expect(await postAlerts(raisedAndResolved())).toEqual({ delivered: true, alerts: 2, at: new Date(NOW).toISOString() });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ method: 'POST', url: '/api/v2/alerts' });
    const [gone, firing] = got[0]!.body as { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
    expect(gone!.endsAt).toBe(new Date(NOW).toISOString());
    expect(firing!.endsAt).toBe(new Date(NOW + REQUEST_LIFETIME_MS).toISOString());
    expect(firing!.startsAt).toBe('2026-12-07T23:00:00.000Z');
    expect(firing!.annotations.url).toBe('https://hu.example.com/incidents/helm-unstuck/gprd/gitlab/web');
    expect(firing!.labels.severity).toBe('critical');
  });

  test('no alertmanager.url: nothing is sent, and it says why', async () => {
    const { postAlerts } = createAlertmanagerActivities({ externalUrl: 'https://hu.example.com' }, () => NOW);
    expect(await postAlerts(raisedAndResolved())).toEqual({ delivered: false, why: 'alertmanager.url is not set' });
    expect(got).toHaveLength(0);
  });

  test('bad input is refused before anything is sent', async () => {
    const { postAlerts } = createAlertmanagerActivities({ url }, () => NOW);
    const bad = raisedAndResolved();
    (bad.alerts[0]!.labels as Record<string, string>).alertname = 'SomethingElse';
    await expect(postAlerts(bad)).rejects.toThrow(InvalidInputError);
    await expect(postAlerts({ incident: where.incident, alerts: [] })).rejects.toThrow(/invalid alerts to post: .*alerts/);
    expect(got).toHaveLength(0);
  });

  test("Alertmanager's refusals: 400 is ours (not retried), anything else and no answer are retried", async () => {
    const { postAlerts } = createAlertmanagerActivities({ url }, () => NOW);
    answer = { status: 400, body: 'bad alert' };
    await expect(postAlerts(raisedAndResolved())).rejects.toThrow(InvalidInputError);
    answer = { status: 503, body: 'not ready' };
    await expect(postAlerts(raisedAndResolved())).rejects.toThrow(new AlertmanagerUnavailableError(`Alertmanager at ${url} answered 503: not ready`));
    // A port nothing listens on any more.
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const nowhere = createAlertmanagerActivities({ url: `http://127.0.0.1:${port}` }, () => NOW).postAlerts;
    await expect(nowhere(raisedAndResolved())).rejects.toThrow(new RegExp(`^Alertmanager at http://127\\.0\\.0\\.1:${port} could not be reached: .*ECONNREFUSED`));
  });
});
