// The shipped Grafana dashboard against a real Prometheus after a real incident: helm killed
// mid-upgrade leaves a release stuck; serve's detector exports it and Debian's Prometheus scrapes
// serve's /metrics; the incident runs to its end (approved by alice, unlocked, verified); then
// every query of every panel in deploy/grafana/helm-unstuck.json is evaluated as Grafana would
// (instant over the time range, or a range query), and a panel whose query returns no value fails
// the test by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, startRemediation } from '../../client/incidents';
import { workflowIdFor } from '../../decisions/vocabulary';
import type { Serving } from '../../server/serve';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { startRig, waitForStatus, type Rig } from './incident-rig';
import { freePort, removeDir, tempDir, waitUntil } from './process';
import { startPrometheus, type Prometheus } from './prometheus';
import { serveOnRig } from './serve-rig';
import { makeStuck } from './stuck';

const CLUSTER = 'dash';
const DASHBOARD = join(__dirname, '..', '..', 'deploy', 'grafana', 'helm-unstuck.json');

interface DashboardTarget {
  refId: string;
  expr: string;
  instant: boolean;
}
interface DashboardPanel {
  title: string;
  targets: DashboardTarget[];
}
type Sample = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };

let rig: Rig;
let dir: string;
let svc: Serving;
let prom: Prometheus;

beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('dashboard');
  rig.gitlab.addProject(1, 'ops/k8s-workloads');
  const config = {
    clusters: { [CLUSTER]: { context: 'admin', gitlab: [{ project: 1, environment: CLUSTER }], admissionPolicy: 'not-required' } },
    // alice decides straight through Temporal here (no sign-in), which the operator must allow.
    policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h', ciRecheckInterval: '200ms', ciMaxChecks: 2, allowUnverifiedDecisions: true },
    server: { listen: '127.0.0.1:0' },
  };
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('dashboard') });
  // No Alertmanager: this test is about what Prometheus stores, not what it sends (a closed port).
  prom = await startPrometheus({ target: new URL(svc.url).host, alertmanager: `127.0.0.1:${await freePort()}`, rules: {} });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await svc?.close();
  await rig?.stop();
  if (dir) await removeDir(dir);
});

async function api(path: string, params: Record<string, string>): Promise<Sample[]> {
  const r = (await (await fetch(`${prom.url}/api/v1/${path}?${new URLSearchParams(params)}`)).json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (r.status !== 'success') throw new Error(`${params.query}: ${r.error ?? r.status}`);
  return r.data!.result;
}

/** The values a query gives, as Grafana asks for it: Grafana's variables set for a range from `fromS` to now. */
async function evaluate(t: DashboardTarget, fromS: number, nowS: number): Promise<{ labels: Record<string, string>; value: number }[]> {
  const expr = t.expr.replaceAll('$__range', `${Math.ceil(nowS - fromS)}s`);
  if (expr.includes('$')) throw new Error(`${t.expr}: a variable this test does not set`);
  const samples = t.instant
    ? await api('query', { query: expr, time: String(nowS) })
    : await api('query_range', { query: expr, start: String(fromS), end: String(nowS), step: '1' });
  return samples.flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map(([, v]) => ({ labels: s.metric, value: Number(v) })));
}

test('after a real incident, every panel of the shipped dashboard shows data from the real Prometheus', async () => {
  const fromS = Math.floor(Date.now() / 1000) - 1;
  const o = { release: unique('shop'), namespace: unique('dash') };
  await makeStuck['pending-upgrade'](helmFor(3), o);
  await markHealthy(o.namespace);
  const stored = (q: string) => async () => (await api('query', { query: q })).length > 0;
  // Scraped while stuck (and so before the end, every recovery series still at 0).
  await waitUntil('the stuck release scraped', stored(`helm_unstuck_release_pending_since_seconds{cluster="${CLUSTER}",release="${o.release}"}`), { timeoutMs: 60_000, intervalMs: 250 });

  const { handle } = await startRemediation(svc.client, { cluster: CLUSTER, namespace: o.namespace, release: o.release, trigger: { source: 'alertmanager', by: 'dashboard test' } }, svc.config.taskQueue);
  const waiting = await waitForStatus(handle as never, (s) => s.hold === 'approval', 90_000);
  await decide(svc.client, workflowIdFor(CLUSTER, o.namespace, o.release), { action: 'approve', by: 'alice', reason: 'the dashboard test', plan: waiting.view.plan!.digest });
  expect(await handle.result()).toMatchObject({ outcome: 'unstuck-and-verified' });

  // The workflow handed reportOutcome its times: one observation in each histogram.
  const exposed = await (await fetch(`${svc.url}/metrics`)).text();
  expect(exposed).toMatch(/^helm_unstuck_stuck_to_verified_seconds_count 1$/m);
  expect(exposed).toMatch(/^helm_unstuck_decision_wait_seconds_count\{hold="approval"\} 1$/m);
  expect(exposed).toMatch(/^helm_unstuck_incident_duration_seconds_count\{outcome="unstuck-and-verified"\} 1$/m);
  await waitUntil('the outcome scraped', stored('helm_unstuck_incidents_total{outcome="unstuck-and-verified"} > 0'), { timeoutMs: 60_000, intervalMs: 250 });

  const nowS = Math.ceil(Date.now() / 1000);
  const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: DashboardPanel[] }).panels;
  expect(panels.length).toBeGreaterThanOrEqual(8);
  const shown: Record<string, { labels: Record<string, string>; value: number }[]> = {};
  const empty: string[] = [];
  for (const p of panels) {
    for (const t of p.targets) {
      const values = (await evaluate(t, fromS, nowS)).filter((v) => Number.isFinite(v.value));
      shown[`${p.title} ${t.refId}`] = values;
      if (values.length === 0) empty.push(`${p.title} (query ${t.refId}: ${t.expr})`);
    }
  }
  expect(empty).toEqual([]);

  // And what they show is this incident, not only zeros.
  const of = (title: string, ref = 'A') => shown[`${title} ${ref}`] ?? [];
  expect(of('Stuck releases, by cluster').some((v) => v.labels.cluster === CLUSTER && v.value >= 1)).toBe(true);
  expect(of('Incidents by outcome').find((v) => v.labels.outcome === 'unstuck-and-verified')?.value).toBeGreaterThan(0);
  for (const ref of ['A', 'B']) {
    expect(of('Stuck to verified (p50, p90)', ref)[0]?.value).toBeGreaterThan(0);
    expect(of("Waiting for a human's decision (p50, p90), by hold", ref).map((v) => v.labels.hold)).toEqual(['approval']);
    expect(of('Incident duration (p50, p90), by outcome', ref).map((v) => v.labels.outcome)).toEqual(['unstuck-and-verified']);
  }
  expect(of('Detector in sync, by cluster').some((v) => v.labels.cluster === CLUSTER && v.value === 1)).toBe(true);
}, 240_000);
