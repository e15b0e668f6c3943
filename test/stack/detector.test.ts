// The detector against a real API server of its own (restarted mid-test), through a proxy that can
// cut its connections: pending records become series and leave them, a cut connection is
// retried with backoff, and an API server restart expires the watch (410 Gone) and lists again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startExporter } from '../../detector/exporter';
import { Kube, RecordWatcher, type RecordKind } from '../../activities/kubernetes';
import { Detector } from '../../detector/detector';
import { detectorRegistry } from '../../detector/metrics';
import { startApiProxy, type ApiProxy } from './api-proxy';
import { startControlPlane, type ControlPlane } from './control-plane';
import { waitUntil } from './process';
import { sharedStack } from './shared';

let cp: ControlPlane;
let proxy: ApiProxy;
let detector: Detector;
let kube: Kube;
let metrics: () => Promise<string>;

beforeAll(async () => {
  const bins = sharedStack().binaries;
  cp = await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver });
  proxy = await startApiProxy({ server: cp.server, caFile: cp.caFile, token: cp.adminToken });
  const kc = Kube.fromKubeconfig({ file: proxy.writeKubeconfig(join(cp.dir, 'kubeconfig-proxied')) }).kc;
  detector = new Detector({ test: new RecordWatcher(kc) }, { backoffMs: 100, maxBackoffMs: 1000 }).start();
  const registry = detectorRegistry(detector);
  metrics = () => registry.metrics();
  kube = Kube.fromKubeconfig({ file: cp.kubeconfig });
  await detector.synced();
}, 120_000);

afterAll(async () => {
  await detector?.stop();
  await proxy?.close();
  await cp?.stop();
});

const record = (kind: RecordKind, release: string, revision: number, status: string, createdAt: number) => ({
  kind,
  name: `sh.helm.release.v1.${release}.v${revision}`,
  namespace: 'default',
  labels: { owner: 'helm', name: release, status, version: String(revision), createdAt: String(createdAt) },
  ...(kind === 'Secret' ? { type: 'helm.sh/release.v1' } : {}),
  data: { release: Buffer.from('not read by the detector').toString('base64') },
});
const series = (release: string, revision: number, status: string) =>
  `helm_unstuck_release_pending_since_seconds{cluster="test",namespace="default",release="${release}",revision="${revision}",status="${status}"}`;
const seen = (what: string, predicate: (text: string) => boolean) =>
  waitUntil(what, async () => predicate(await metrics()), { timeoutMs: 20_000, intervalMs: 50 });

test('a pending record is one series (its createdAt as value) until it stops being pending; settled records are never series', async () => {
  await kube.createRecord(record('Secret', 'web', 1, 'deployed', 1_700_000_000));
  const pending = await kube.createRecord(record('Secret', 'web', 2, 'pending-upgrade', 1_700_000_100));
  await kube.createRecord(record('ConfigMap', 'api', 1, 'pending-install', 1_700_000_200));
  await seen('both pending releases exported', (t) => t.includes(`${series('web', 2, 'pending-upgrade')} 1700000100`) && t.includes(`${series('api', 1, 'pending-install')} 1700000200`));
  const text = await metrics();
  expect(text.match(/^helm_unstuck_release_pending_since_seconds\{/gm)).toHaveLength(2);
  expect(text).toMatch(/^helm_unstuck_detector_in_sync\{cluster="test"\} 1$/m);
  expect(text).toMatch(/^helm_unstuck_detector_up\{cluster="test"\} 1$/m);
  expect(text).not.toContain('not read by the detector');

  // Marked failed (as Flux or helm-unstuck's mark-failed do): it leaves the selector, and the series goes.
  await kube.replaceRecord(record('Secret', 'web', 2, 'failed', 1_700_000_100), pending.resourceVersion);
  await seen('the series of web is gone', (t) => !t.includes('release="web"'));
  expect(await metrics()).toContain(series('api', 1, 'pending-install'));
});

test('a cut connection is retried with backoff, and what changed meanwhile is caught up', async () => {
  const before = detector.status().test!.restarts.disconnected;
  proxy.cut();
  await kube.createRecord(record('Secret', 'cut', 4, 'pending-rollback', 1_700_000_300));
  await seen('the record created after the cut', (t) => t.includes(series('cut', 4, 'pending-rollback')));
  const s = detector.status().test!;
  expect(s.restarts.disconnected).toBeGreaterThan(before);
  expect(await metrics()).toMatch(new RegExp(`^helm_unstuck_detector_watch_restarts_total\\{cluster="test",reason="disconnected"\\} ${s.restarts.disconnected}$`, 'm'));
  await detector.synced();
});

test('an API server restart: the watch fails while it is down, then expires (410 Gone) and lists again', async () => {
  const before = detector.status().test!.restarts;
  const restarting = cp.restartApiServer();
  await waitUntil('the detector out of sync while the API server is down', async () => !detector.status().test!.inSync, { timeoutMs: 20_000, intervalMs: 20 });
  expect(await metrics()).toMatch(/^helm_unstuck_detector_in_sync\{cluster="test"\} 0$/m);
  await restarting;
  await kube.createRecord(record('ConfigMap', 'after', 9, 'pending-upgrade', 1_700_000_400));
  await seen('the record created after the restart', (t) => t.includes(series('after', 9, 'pending-upgrade')));
  await detector.synced();
  const after = detector.status().test!.restarts;
  expect(after.disconnected).toBeGreaterThan(before.disconnected);
  expect(after.expired).toBeGreaterThan(before.expired);
  // Still exactly the stuck releases, none lost or duplicated by the relist.
  expect(detector.stuck().map((r) => r.release).sort()).toEqual(['after', 'api', 'cut']);
});

test('helm-unstuck exporter serves the same series (to the metrics token only, when set) and each cluster\'s sync state in /healthz', async () => {
  const config = join(cp.dir, 'exporter.yaml');
  writeFileSync(config, JSON.stringify({ clusters: { solo: { context: 'admin', gitlab: [{ project: 1, environment: 'solo' }] } }, policy: { approvers: ['a'] }, kubeconfig: cp.kubeconfig }));
  const token = 'exporter-metrics-token-0123';
  const exporter = await startExporter({ env: { HELM_UNSTUCK_CONFIG: config, HELM_UNSTUCK_METRICS_TOKEN: token }, listen: '127.0.0.1:0', log: () => undefined });
  try {
    await exporter.detector.synced();
    expect((await fetch(`${exporter.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    const text = await (await fetch(`${exporter.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(text).toContain('helm_unstuck_release_pending_since_seconds{cluster="solo",namespace="default",release="after",revision="9",status="pending-upgrade"} 1700000400');
    expect(text.match(/^helm_unstuck_release_pending_since_seconds\{/gm)).toHaveLength(3);
    const health = (await (await fetch(`${exporter.url}/healthz`)).json()) as { detector: Record<string, { inSync: boolean; up: boolean; stuckReleases: number }> };
    expect(health.detector.solo).toMatchObject({ inSync: true, up: true, stuckReleases: 3 });
  } finally {
    await exporter.close();
  }
});
