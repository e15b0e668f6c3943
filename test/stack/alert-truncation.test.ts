// Alertmanager with max_alerts: 2 and five stuck releases in one group sends the same first two
// alerts every time: the other three would get no incident until those resolve. The receiver
// counts the truncation and scans the cluster itself; five incidents start, none resolving.
import { randomBytes } from 'node:crypto';
import type { Serving } from '../../server/serve';
import { WEBHOOK_PATH } from '../../server/http';
import { counted } from '../../server/metrics';
import { workflowIdFor } from '../../decisions/vocabulary';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { helmFor, unique } from './fixtures';
import { startRig, type Rig } from './incident-rig';
import { removeDir, tempDir } from './process';
import { serveOnRig } from './serve-rig';
import { makeStuck } from './stuck';
import { waitFor } from '../wait-for';

const TOKEN = `webhook-${randomBytes(12).toString('hex')}`;
const CLUSTER = 'trunc';
const RELEASES = ['r1', 'r2', 'r3', 'r4', 'r5'];

let rig: Rig;
let dir: string;
let svc: Serving;
let am: Alertmanager;
const logs: string[] = [];
const namespace = unique('trunc');

beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('trunc');
  rig.gitlab.addProject(601, 'ops/k8s-workloads-601');
  const config = {
    clusters: {
      [CLUSTER]: { context: 'admin', gitlab: [{ project: 601, environment: CLUSTER }] },
      'gprd-us-east1-b': { context: 'admin', gitlab: [{ project: 601, environment: 'gprd-us-east1-b' }] },
    },
    policy: { approvers: ['alice'], escalateAfter: '1h' },
    server: { listen: '127.0.0.1:0' },
  };
  const helm = helmFor(3);
  await Promise.all(RELEASES.map((release) => makeStuck['pending-upgrade'](helm, { release, namespace })));
  svc = await serveOnRig(rig, { dir, config, taskQueue: unique('trunc'), webhookToken: TOKEN, withDetector: false, log: (l) => logs.push(l) });
  am = await startAlertmanager({ webhookUrl: `${svc.url}${WEBHOOK_PATH}`, bearerToken: TOKEN, groupBy: ['alertname', 'cluster'], maxAlerts: 2 });
}, 300_000);
afterAll(async () => {
  await am?.stop();
  await svc?.close();
  await rig?.stop();
  await removeDir(dir);
});

/** The incidents of this test's namespace that exist now. */
async function incidents(): Promise<string[]> {
  const ids: string[] = [];
  for (const release of RELEASES) {
    const handle = svc.client.workflow.getHandle(workflowIdFor(CLUSTER, namespace, release));
    if (await handle.describe().then(() => true, () => false)) ids.push(release);
  }
  return ids;
}

test('max_alerts: 2 and five stuck releases in one group: five incidents start, no alert resolving', async () => {
  await am.fire(
    RELEASES.map((release) => ({
      labels: { alertname: 'HelmReleaseStuck', cluster: CLUSTER, namespace, label_name: release, label_version: '2' },
      annotations: { summary: `Helm release ${namespace}/${release} is stuck` },
    })),
  );
  const started = await waitFor('five incidents', incidents, (ids) => ids.length === RELEASES.length, { timeoutMs: 60_000 });
  expect(started).toEqual(RELEASES);
  // The scan's summary is logged once all its forwards have answered, which can be just after
  // the incidents they started are listed.
  const SUMMARY = /alert group of cluster trunc truncated \(3 alerts left out\): scanned it, \d+ stuck release\(s\): \d+ incident\(s\) started/;
  await waitFor("the scan's summary logged", () => logs.join('\n'), (l) => SUMMARY.test(l));
  // Counted, logged, and the scan ran once however often Alertmanager re-sent the group.
  expect(await counted(svc.metrics.alertsTruncated, {})).toBeGreaterThanOrEqual(3);
  expect(await counted(svc.metrics.truncationScans, { result: 'scanned' })).toBe(1);
  expect(logs.join('\n')).toMatch(/Alertmanager left 3 alert\(s\) out of group .* \(max_alerts\); scanning cluster\(s\) "trunc"/);
  expect(logs.join('\n')).toMatch(SUMMARY);
  // The three the scan found say so in their history.
  const summaries = await Promise.all(
    RELEASES.map(async (r) => {
      const d = await svc.client.workflow.getHandle(workflowIdFor(CLUSTER, namespace, r)).fetchHistory();
      const input = d.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      return (JSON.parse(Buffer.from(input!).toString()) as { trigger: { by: string } }).trigger.by;
    }),
  );
  expect(summaries.filter((by) => by === 'scan after a truncated alert group')).toHaveLength(3);
  expect(summaries.filter((by) => by.startsWith('alert '))).toHaveLength(2);
}, 120_000);

test('a resolved alert re-sent is forwarded once, then answered from memory', async () => {
  const body = JSON.stringify({
    version: '4', groupKey: 'g', truncatedAlerts: 0, status: 'resolved', receiver: 'helm-unstuck', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am',
    alerts: [{ status: 'resolved', labels: { alertname: 'HelmReleaseStuck', cluster: CLUSTER, namespace, label_name: 'r1' }, annotations: {}, startsAt: '2026-11-24T09:41:07Z', endsAt: '2026-11-24T09:51:07Z', fingerprint: 'abcdef01' }],
  });
  const results: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${svc.url}${WEBHOOK_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
    results.push(...((await r.json()) as { accepted: { result: string }[] }).accepted.map((a) => a.result));
  }
  expect(results).toEqual(['resolved', 'duplicate', 'duplicate']);
  const history = await svc.client.workflow.getHandle(workflowIdFor(CLUSTER, namespace, 'r1')).fetchHistory();
  const signals = history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes || e.workflowExecutionUpdateAcceptedEventAttributes) ?? [];
  expect(signals.length).toBeLessThanOrEqual(1);
}, 60_000);
