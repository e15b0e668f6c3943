// A client without a token tries to hold 1,024 idle connections to serve, reopening each one serve
// closes, while a real Alertmanager delivers 35 alert groups. Before the connection guard, 34 of
// 35 POSTs were reset. Both come from 127.0.0.1, so the per-address limit cannot tell them apart:
// what does is that Alertmanager's connections send a request with the webhook's token at once and
// the flood's send nothing. Every delivery must be answered 2xx at serve, none failed at
// Alertmanager, while the flood is still holding connections, and what was shed is counted.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Counter, Gauge } from 'prom-client';
import type { Serving } from '../../server/serve';
import { WEBHOOK_PATH } from '../../server/http';
import { counted } from '../../server/metrics';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { unique } from './fixtures';
import { startRig, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { serveOnRig } from './serve-rig';
import { waitFor } from '../wait-for';

const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
const CLUSTER = 'flood';
const FLOOD = 1024;
const GROUPS = 35;

let rig: Rig;
let dir: string;
let svc: Serving;
let am: Alertmanager;
let flood: Flood | undefined;
const logs: string[] = [];

/** FLOOD tokenless connections that never send a byte; each one serve closes is opened again. */
interface Flood {
  opened(): number;
  stop(): void;
}

function startFlood(url: string): Flood {
  const { hostname, port } = new URL(url);
  const live = new Set<Socket>();
  let [opened, stopped] = [0, false];
  const one = () => {
    if (stopped) return;
    const s = connect(Number(port), hostname);
    opened++;
    live.add(s);
    s.on('error', () => undefined);
    s.once('close', () => {
      live.delete(s);
      setImmediate(one);
    });
  };
  for (let i = 0; i < FLOOD; i++) one();
  return {
    opened: () => opened,
    stop() {
      stopped = true;
      for (const s of live) s.destroy();
    },
  };
}

/** Alertmanager's own count of webhook requests, and of those that failed (resets included). */
async function amRequests(): Promise<{ total: number; failed: number }> {
  const text = await (await fetch(`${am.url}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes('integration="webhook"'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return { total: sum('alertmanager_notification_requests_total'), failed: sum('alertmanager_notification_requests_failed_total') };
}

beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('flood');
  rig.gitlab.addProject(611, 'ops/k8s-workloads-611');
  // The defaults under test: maxConnections 1024, maxConnectionsPerClient 256, unauthenticatedIdleTimeout 2s.
  const config = { clusters: { [CLUSTER]: { context: 'admin', gitlab: [{ project: 611, environment: CLUSTER }] } }, policy: { approvers: ['alice'], escalateAfter: '1h' }, server: { listen: '127.0.0.1:0' } };
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('flood'), webhookToken: TOKEN, withDetector: false, log: (l) => logs.push(l) });
  am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN, groupBy: ['alertname', 'cluster', 'namespace', 'label_name'] });
}, 300_000);
afterAll(async () => {
  flood?.stop();
  await am?.stop();
  await svc?.close();
  await rig?.stop();
  await removeDir(dir);
});

test('with 1,024 idle connections held open by a client without a token, every Alertmanager delivery is answered', async () => {
  flood = startFlood(svc.url);
  const shedCounter = svc.metrics.registry.getSingleMetric('helm_unstuck_connections_shed_total') as Counter;
  const held = async () => ((await (svc.metrics.registry.getSingleMetric('helm_unstuck_connections_open') as Gauge).get()).values.find((v) => v.labels.authenticated === 'false')?.value ?? 0);
  const shed = async () => (await counted(shedCounter, { reason: 'evicted' })) + (await counted(shedCounter, { reason: 'idle' }));
  // The flood is at it: serve holds as many of its connections as one client may, and sheds the rest.
  await waitFor('the flood holding connections and being shed', async () => ({ held: await held(), shed: await shed() }), (f) => f.held >= 200 && f.shed >= FLOOD - 256, { timeoutMs: 60_000 });
  const namespace = unique('flood');
  await am.fire(Array.from({ length: GROUPS }, (_, i) => ({ labels: { alertname: 'HelmReleaseStuck', cluster: CLUSTER, namespace, label_name: `r${i}`, label_version: '2' } })));
  const ok = () => counted(svc.metrics.webhookRequests, { result: 'ok' });
  await waitFor(`${GROUPS} deliveries answered 200 at serve`, ok, (n) => n >= GROUPS, { timeoutMs: 120_000 });
  // Measured while the flood still holds connections: it was not let up for the deliveries.
  const during = { held: await held(), opened: flood.opened(), am: await amRequests() };
  flood.stop();
  console.log(`flood: ${during.opened} connections opened, ${during.held} of them held by serve at the end; shed ${await shed()}; Alertmanager ${JSON.stringify(during.am)}`);
  expect(during.held).toBeGreaterThanOrEqual(200);
  expect(during.opened).toBeGreaterThan(FLOOD);
  // Alertmanager sent at least one request per group, and none failed (a reset counts as failed).
  expect(during.am.failed).toBe(0);
  expect(during.am.total).toBeGreaterThanOrEqual(GROUPS);
  expect((await svc.metrics.webhookRequests.get()).values.filter((v) => v.labels.result !== 'ok' && v.value > 0)).toEqual([]);
  // Counted, and logged once per client per interval, not once per connection.
  expect(await shed()).toBeGreaterThan(FLOOD);
  expect(logs.filter((l) => l.startsWith('shed connection(s) from 127.0.0.1')).length).toBeLessThanOrEqual(3);
}, 300_000);
