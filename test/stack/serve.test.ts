// `helm-unstuck serve` on the real stack: Alertmanager webhooks in, incidents out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Serving } from '../../server/serve';
import { WEBHOOK_PATH } from '../../server/http';
import { AlertForwarder, ForwardError } from '../../server/forwarder';
import { counted, createMetrics } from '../../server/metrics';
import { workflowIdFor } from '../../decisions/vocabulary';
import { statusQuery } from '../../workflows/definitions';
import { startAlertmanager } from './alertmanager';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { startRig, waitForStatus, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { relabelPending } from './records';
import { serveOnRig } from './serve-rig';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const FIXTURES = join(__dirname, '..', 'fixtures', 'alertmanager');
const fixture = (n: string) => readFileSync(join(FIXTURES, n), 'utf8');
const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;

let rig: Rig;
let dir: string;
let svc: Serving;
let tq: string;
beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('serve');
  for (const p of [501, 502, 503]) rig.gitlab.addProject(p, `ops/k8s-workloads-${p}`);
  tq = unique('serve');
  const config = {
    clusters: {
      'gprd-us-east1-b': { context: 'admin', gitlab: [{ project: 501, environment: 'gprd-us-east1-b' }] },
      'gprd-us-east1-c': { context: 'admin', gitlab: [{ project: 502, environment: 'gprd-us-east1-c' }] },
      gstg: { context: 'admin', gitlab: [{ project: 503, environment: 'gstg' }] },
    },
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h' },
    server: { listen: '127.0.0.1:0' },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: tq, webhookToken: TOKEN });
}, 120_000);
afterAll(async () => {
  await svc?.close();
  await rig?.stop();
  await removeDir(dir);
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${svc.url}${WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body,
  });

async function workflowIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of svc.client.workflow.list({ query: `WorkflowType = 'remediateStuckRelease' AND TaskQueue = '${tq}'` })) ids.push(w.workflowId);
  return ids.sort();
}

test('firing-many-releases starts exactly three incidents and rejects the fourth alert; repeats start none', async () => {
  const r = await post(fixture('firing-many-releases.json'));
  expect(r.status).toBe(200);
  const body = (await r.json()) as { accepted: { result: string; workflowId: string }[]; rejected: { fingerprint: string; reason: string }[] };
  expect(body.accepted.map((a) => [a.workflowId, a.result])).toEqual([
    ['helm-unstuck/gprd-us-east1-b/gitlab/gitlab', 'started'],
    ['helm-unstuck/gprd-us-east1-c/gitlab/gitlab', 'started'],
    ['helm-unstuck/gstg/gitlab-cny/gitlab-cny', 'started'],
  ]);
  expect(body.rejected).toEqual([{ fingerprint: '77aa00bb11cc22dd', result: 'rejected', reason: expect.stringMatching(/alertname "KubePodCrashLooping" is not one helm-unstuck handles/) }]);

  // Alertmanager re-sends; a duplicate alert arrives in another group: no new incident.
  for (let i = 0; i < 5; i++) expect((await post(fixture('firing-many-releases.json'))).status).toBe(200);
  const dup = (await (await post(fixture('firing-one-release.json'))).json()) as { accepted: { result: string }[] };
  expect(dup.accepted.map((a) => a.result)).toEqual(['duplicate']);
  // Listing is eventually consistent (visibility): wait for the three, then check there are no more.
  const ids = await waitFor('the three incidents listed', workflowIds, (l) => l.length >= 3);
  expect(ids).toEqual(['helm-unstuck/gprd-us-east1-b/gitlab/gitlab', 'helm-unstuck/gprd-us-east1-c/gitlab/gitlab', 'helm-unstuck/gstg/gitlab-cny/gitlab-cny']);

  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  expect(metrics).toMatch(/helm_unstuck_alerts_total\{result="started"\} 3/);
  expect(metrics).toMatch(/helm_unstuck_alerts_total\{result="rejected"\} 6/);
  expect(metrics).toMatch(/helm_unstuck_stuck_releases\{cluster="gprd-us-east1-b"\} 1/);
});

test('a real Alertmanager drives an incident end to end, and its resolution finishes it without acting', async () => {
  const helm = helmFor(3);
  const o = { release: unique('am'), namespace: unique('am') };
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace);
  const am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN });
  try {
    const labels = { alertname: 'HelmReleaseStuck', cluster: 'gstg', namespace: o.namespace, label_name: o.release, label_owner: 'helm', label_status: 'pending-upgrade', label_version: '2' };
    await am.fire([{ labels, annotations: { summary: `Helm release ${o.namespace}/${o.release} is stuck` } }]);
    const handle = svc.client.workflow.getHandle(workflowIdFor('gstg', o.namespace, o.release));
    const waiting = await waitForStatus(handle as never, (s) => s.hold === 'approval', 30_000);
    expect(waiting.evidence[0]?.summary).toMatch(/^started by alertmanager \(alert [0-9a-f]+\): Helm release .* is stuck/);

    // Someone fixes it by hand meanwhile; Alertmanager resolves the alert.
    await relabelPending(o.namespace, `sh.helm.release.v1.${o.release}.v2`);
    await helm.ok(['rollback', o.release, '1', '-n', o.namespace]); // the human's choice, not ours
    await am.fire([{ labels, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const result = await handle.result();
    expect(result.outcome).toBe('nothing-to-do');
    expect(result.reason).toMatch(/the alert resolved and the release is no longer stuck/);
    expect(result.evidence.map((e: { summary: string }) => e.summary).join('\n')).toMatch(/alert [0-9a-f]+ resolved/);
    expect(result.unlock).toBeUndefined();
    void statusQuery;
  } finally {
    await am.stop();
  }
});

test('Temporal answering with an error is reported as that error, not as "could not reach Temporal"', async () => {
  const connection = await Connection.connect({ address: rig.env.address });
  try {
    const lost = new AlertForwarder(new Client({ connection, namespace: 'no-such-namespace' }), svc.config, createMetrics());
    const target = { fingerprint: 'abc123', status: 'firing' as const, cluster: 'gstg', namespace: 'ns', release: 'rel', startsAt: new Date().toISOString(), endsAt: '' };
    const err = (await lost.forward(target).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ForwardError);
    expect(err.message).toMatch(/^forwarding the alert to helm-unstuck\/gstg\/ns\/rel failed: Namespace not found: 'no-such-namespace'/);
  } finally {
    await connection.close();
  }
});

describe('bad requests change nothing', () => {
  test.each([
    ['no token', { authorization: '' }, fixture('firing-one-release.json'), 401],
    ['a wrong token', { authorization: 'Bearer nope' }, fixture('firing-one-release.json'), 401],
    ['a wrong content type', { 'content-type': 'text/plain' }, fixture('firing-one-release.json'), 415],
    ['a body over the limit', {}, 'x'.repeat(2 << 20), 413],
    ['not JSON', {}, '{"version":"4",', 400],
  ])('%s → %s', async (_w, headers, body, status) => {
    const r = await post(body, headers as Record<string, string>);
    expect(r.status).toBe(status);
    expect(((await r.json()) as { error: string }).error).toBeTruthy();
  });

  test('1,000 fuzzed malformed or hostile payloads: only 4xx with reasons, no crash, no incident', async () => {
    const before = await workflowIds();
    const startedBefore = await counted(svc.metrics.alerts, { result: 'started' });
    const seeds = ['firing-one-release.json', 'firing-many-releases.json', 'resolved-one-release.json'].map((n) => JSON.parse(fixture(n)) as Record<string, unknown>);
    let state = 42;
    const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    // Each is invalid wherever it lands (a short plain string would be a valid receiver name).
    const hostile: unknown[] = [null, 7, [], {}, JSON.parse('{"__proto__": {"polluted": true}}'), 'A'.repeat(10_000), -1, { $ne: 1 }, [[[[[]]]]], true];
    const bodies: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const p = JSON.parse(JSON.stringify(pick(seeds))) as Record<string, unknown> & { alerts: Record<string, unknown>[] };
      const alert = pick(p.alerts);
      // A malformed alert is rejected alone and the valid ones of its group are handled (issue 23),
      // so an alert-level fault is sent in a group of its own: none of these may start anything.
      if (i % 10 >= 2 && i % 10 <= 5) p.alerts = [alert];
      switch (i % 10) {
        case 0: p.version = pick(['3', 4, null, '']); break;
        case 1: p[pick(['alerts', 'status', 'groupKey', 'receiver'])] = pick(hostile); break;
        case 2: alert.labels = pick([null, [], 'x', { alertname: 7 }, { alertname: 'HelmReleaseStuck', cluster: { a: 1 } }]); break;
        case 3: alert[pick(['startsAt', 'endsAt'])] = pick(['now', '2026-13-45', 0, null]); break;
        case 4: alert.fingerprint = pick(['<script>', '', 'zz', 'a'.repeat(100), null]); break;
        case 5: alert.status = pick(['FIRING', null, 1, 'unknown']); break;
        // Any number of alerts is read, each on its own: 1,001 malformed ones are 1,001 rejections.
        case 6: p.alerts = Array.from({ length: 1001 }, () => ({ ...alert, fingerprint: '<script>' })); break;
        case 7: alert.labels = { ...(alert.labels as object), label_name: pick(['../../etc', 'A_B', '', 'x'.repeat(60), 'rel;rm -rf']) }; p.alerts = [alert]; break;
        case 8: alert.labels = { ...(alert.labels as object), cluster: pick(['unknown-cluster', 'prod\n']) }; p.alerts = [alert]; break;
        case 9: p.truncatedAlerts = pick([-1, 1.5, 'many', null]); break;
      }
      bodies.push(i % 97 === 0 ? JSON.stringify(p).slice(0, 50) : JSON.stringify(p));
    }
    const statuses = new Map<number, number>();
    for (let i = 0; i < bodies.length; i += 20) {
      const batch = await Promise.all(bodies.slice(i, i + 20).map(async (b) => {
        const r = await post(b);
        const j = (await r.json()) as { error?: string; rejected?: unknown[] };
        expect(j.error ?? j.rejected).toBeTruthy();
        return r.status;
      }));
      for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    expect([...statuses.keys()].filter((s) => s < 400 || s >= 500)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(1000);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Counted as each answer is sent: nothing started (the listing below may lag behind a start).
    expect(await counted(svc.metrics.alerts, { result: 'started' })).toBe(startedBefore);
    expect(await workflowIds()).toEqual(before);
  });
});
