// The chart's two Deployments, run as the chart configures them, on the real stack: the chart is
// installed with real helm; serve runs with its container's args, environment, ConfigMap file and
// mounted Secrets and no Kubernetes credentials at all (no kubeconfig, no token); the worker with
// its own, and a token of the chart's ServiceAccount. An alert group Alertmanager truncates makes
// the worker scan the cluster (serve cannot) and serve start the incident it finds; an approval
// through serve's page unsticks the release. (No pods run here: the API server has no kubelet.)
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseAllDocuments, stringify } from 'yaml';
import { encodeKey, newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { workflowIdFor } from '../../decisions/vocabulary';
import { TRUNCATION_SCAN } from '../../server/forwarder';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { callAs, serviceAccountToken, writeKubeconfig } from './control-plane';
import { markHealthy } from './deployments';
import { CLUSTER, helmFor, unique } from './fixtures';
import { OWN_CHART } from './helm';
import { ENVIRONMENT, GITLAB_TOKEN, gitlabProject, startRig, trace, waitForStatus, type Rig } from './incident-rig';
import { freePort, removeDir, startServer, tempDir, waitUntil, type Server } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const CLI = join(__dirname, '..', '..', 'cli', 'main.ts');
const stack = sharedStack();
const helm = helmFor(3);
const ALICE = `alice-${randomBytes(12).toString('hex')}`;
const KEY = newSecretKey();
const WEBHOOK_TOKEN = `webhook-${randomBytes(12).toString('hex')}`;

interface Container {
  args: string[];
  env: { name: string; value?: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  automountServiceAccountToken: boolean;
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; configMap?: unknown; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
}
type Obj = { kind: string; metadata: { name: string }; spec?: { template: { spec: PodSpec } }; data?: Record<string, string> };

let rig: Rig;
let am: Alertmanager;
let dir: string;
let release: string;
let saNamespace: string;
let serve: Server;
let worker: Server;
let serveUrl: string;
let workerUrl: string;
let client: Client;
const stuck = [unique('web'), unique('web')];
let namespace: string;

/**
 * One Deployment's process, replayed on this machine: each mounted volume becomes a folder under
 * `root` (the ConfigMap's files, each Secret's key with `secretFile`'s content), and the container's
 * environment points into it. Listening on loopback rather than 0.0.0.0.
 */
function podProcess(name: string, pod: PodSpec, configMap: Record<string, string>, secretFile: (secret: string, key: string) => string, env: NodeJS.ProcessEnv): Server {
  const root = join(dir, name);
  const c = pod.containers[0]!;
  const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
  for (const m of c.volumeMounts) {
    const v = volumes.get(m.name)!;
    mkdirSync(join(root, m.mountPath), { recursive: true });
    if (v.configMap) for (const [k, text] of Object.entries(configMap)) writeFileSync(join(root, m.mountPath, k), text);
    for (const item of v.secret?.items ?? []) writeFileSync(join(root, m.mountPath, item.path), secretFile(v.secret!.secretName, item.key));
  }
  const podEnv: NodeJS.ProcessEnv = {};
  for (const e of c.env) if (e.value !== undefined) podEnv[e.name] = (e.value.startsWith('/etc/') || e.value === '/tmp' ? join(root, e.value) : e.value).replace('0.0.0.0:', '127.0.0.1:');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  // The config file names the kubeconfig inside the pod: rewrite it to this root.
  const file = podEnv.HELM_UNSTUCK_CONFIG!;
  writeFileSync(file, configMap[file.split('/').pop()!]!.replaceAll('/etc/helm-unstuck/', `${root}/etc/helm-unstuck/`));
  const args = c.args.map((a) => a.replace('0.0.0.0:', '127.0.0.1:'));
  return startServer(name, process.execPath, ['--import', 'tsx', CLI, ...args], { logFile: join(dir, `${name}.log`), cwd: join(__dirname, '..', '..'), env: { ...podEnv, ...env } });
}

beforeAll(async () => {
  rig = await startRig();
  dir = tempDir('split');
  namespace = unique('split');
  const { project } = gitlabProject(rig.gitlab);
  rig.gitlab.onRetry = (p, job) => rig.gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const [servePort, workerPort] = [await freePort(), await freePort()];
  release = unique('hu');
  saNamespace = unique('hu-sys');
  const values = {
    temporal: { address: rig.env.address, namespace: 'default', taskQueue: unique('split') },
    containerPort: servePort,
    worker: { metricsPort: workerPort },
    serve: { replicaCount: 2 },
    rbac: { mode: 'cluster' },
    kubeconfigSecret: { name: 'worker-kubeconfig', key: 'kubeconfig' },
    secrets: {
      webhookToken: { name: 'webhook', key: 'token' },
      gitlabToken: { name: 'ops-gitlab', key: 'token' },
      // One Secret for both keys every serve replica shares.
      sessionSecret: { name: 'serve-keys', key: 'session-secret' },
      decisionKey: { name: 'serve-keys', key: 'decision-key' },
    },
    config: {
      clusters: { [CLUSTER]: { context: 'helm-unstuck', gitlab: [{ project, environment: ENVIRONMENT }] } },
      policy: { approvers: ['alice'], minPendingAge: '0s', escalateAfter: '1h', ciPollInterval: '200ms' },
      decisionKeys: [publicKeyOf(KEY)],
      users: { alice: { tokenSha256: createHash('sha256').update(ALICE).digest('hex') } },
      server: { insecureCookies: true },
      gitlab: { url: rig.gitlab.url },
    },
  };
  const valuesFile = join(dir, 'values.yaml');
  writeFileSync(valuesFile, stringify(values));
  await Promise.all(stuck.map((r) => makeStuck['pending-upgrade'](helm, { release: r, namespace, upgradesBefore: 1 })));
  await markHealthy(namespace);
  await helm.ok(['install', release, OWN_CHART, '-n', saNamespace, '--create-namespace', '-f', valuesFile]);
  const objs = parseAllDocuments(await helm.ok(['get', 'manifest', release, '-n', saNamespace])).map((d) => d.toJSON() as Obj | null).filter((o): o is Obj => o !== null);
  const deployment = (c: string) => objs.find((o) => o.kind === 'Deployment' && o.metadata.name === `${release}-helm-unstuck-${c}`)!.spec!.template.spec;
  const configMap = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${release}-helm-unstuck`)!.data!;

  // The worker's identity: a token of the chart's ServiceAccount, in the kubeconfig Secret it mounts.
  const token = await serviceAccountToken(stack, saNamespace, `${release}-helm-unstuck`);
  const kubeconfig = join(dir, 'worker.kubeconfig');
  writeKubeconfig(kubeconfig, { server: stack.server, caFile: stack.caFile, token, context: 'helm-unstuck' });
  await waitUntil('the admission policy in force for the worker', async () => /ValidatingAdmissionPolicy/.test((await callAs(stack.server, readFileSync(stack.caFile), token, 'POST', '/api/v1/namespaces/default/secrets?dryRun=All', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'probe' }, type: 'Opaque' }).catch(() => ({ message: '' }))).message), { timeoutMs: 30_000 });
  const contents: Record<string, string> = {
    'webhook/token': WEBHOOK_TOKEN,
    'ops-gitlab/token': GITLAB_TOKEN,
    'serve-keys/session-secret': randomBytes(32).toString('hex'),
    'serve-keys/decision-key': encodeKey(KEY),
  };
  const secretFile = (s: string, k: string) => (s === 'worker-kubeconfig' ? readFileSync(kubeconfig, 'utf8') : `${contents[`${s}/${k}`]!}\n`);
  // No credentials reach serve: no kubeconfig, and a home without one.
  serve = podProcess('serve', deployment('serve'), configMap, secretFile, { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });
  worker = podProcess('worker', deployment('worker'), configMap, secretFile, { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });
  serveUrl = `http://127.0.0.1:${servePort}`;
  workerUrl = `http://127.0.0.1:${workerPort}`;
  await waitUntil('serve', async () => (await fetch(`${serveUrl}/healthz`)).ok, { timeoutMs: 60_000, server: serve });
  await waitUntil('the worker', async () => (await fetch(`${workerUrl}/healthz`)).ok, { timeoutMs: 60_000, server: worker });
  const connection = await Connection.connect({ address: rig.env.address });
  client = new Client({ connection, namespace: 'default' });
  am = await startAlertmanager({ webhookUrl: `${serveUrl}/webhook/alertmanager`, bearerToken: WEBHOOK_TOKEN, groupBy: ['alertname', 'cluster'], maxAlerts: 1 });
}, 300_000);
afterAll(async () => {
  await am?.stop();
  await serve?.stop();
  await worker?.stop();
  await client?.connection.close();
  await rig?.stop();
  if (dir) await removeDir(dir);
});

const hidden = (html: string, name: string): string => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1] ?? '';

test('serve pod without credentials, worker pod with the ServiceAccount: a truncated group is scanned by the worker, and an approval through serve unsticks the release', async () => {
  expect(stack.kubeconfig).toBeTruthy();
  await am.fire(stuck.map((r) => ({ labels: { alertname: 'HelmReleaseStuck', cluster: CLUSTER, namespace, label_name: r, label_version: '3' }, annotations: { summary: `Helm release ${namespace}/${r} is stuck` } })));
  // Alertmanager sends one alert of the two; the worker's scan finds the other, and serve starts it.
  const ids = stuck.map((r) => workflowIdFor(CLUSTER, namespace, r));
  await waitUntil('both incidents', async () => (await Promise.all(ids.map((id) => client.workflow.getHandle(id).describe().then(() => true, () => false)))).every(Boolean), { timeoutMs: 90_000, server: serve });
  const triggers = await Promise.all(
    ids.map(async (id) => {
      const h = await client.workflow.getHandle(id).fetchHistory();
      const input = h.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      return (JSON.parse(Buffer.from(input!).toString()) as { trigger: { by: string } }).trigger.by;
    }),
  );
  expect(triggers.filter((by) => by === TRUNCATION_SCAN)).toHaveLength(1);
  const scanned = ids[triggers.indexOf(TRUNCATION_SCAN)]!;
  const scans = [];
  for await (const w of client.workflow.list({ query: "WorkflowType = 'scanAfterTruncation'" })) scans.push(w);
  expect(scans.map((w) => [w.workflowId, w.status.name])).toEqual([[`helm-unstuck-scan/${CLUSTER}`, 'COMPLETED']]);

  // The approval, through serve's page, as a person gives it.
  const handle = client.workflow.getHandle(scanned);
  await waitForStatus(handle as never, (s) => s.step === 'approval', 90_000);
  const path = `/incidents/${scanned}`;
  const login = await fetch(`${serveUrl}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: serveUrl }, body: new URLSearchParams({ token: ALICE, next: path }).toString() });
  expect(login.status).toBe(303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(`${serveUrl}${path}`, { headers: { cookie } })).text();
  const decided = await fetch(`${serveUrl}${path}/decide`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: serveUrl, cookie },
    body: new URLSearchParams({ csrf: hidden(page, 'csrf'), hold: hidden(page, 'hold'), plan: hidden(page, 'plan'), action: 'approve', reason: 'through the chart split' }).toString(),
  });
  expect(decided.status).toBe(303);
  const r = (await handle.result()) as { outcome: string; approval: { by: string } };
  expect(r.outcome).toBe('unstuck-and-verified');
  expect(r.approval).toMatchObject({ by: 'alice', verifiedBy: 'token', via: 'page' });
  const release = stuck[ids.indexOf(scanned)]!;
  expect(await helm.status(release, namespace)).toEqual({ status: 'deployed', revision: 2 });

  // The worker exports the admission policy's gauge and the detector; serve exports neither.
  const workerMetrics = await (await fetch(`${workerUrl}/metrics`)).text();
  expect(workerMetrics).toMatch(new RegExp(`^helm_unstuck_admission_policy_enforced\\{cluster="${CLUSTER}"\\} 1$`, 'm'));
  expect(workerMetrics).toMatch(/^# TYPE helm_unstuck_detector_watch_restarts_total counter$/m);
  expect(workerMetrics).toMatch(/^helm_unstuck_incidents_total\{outcome="unstuck-and-verified"\} 1$/m);
  const serveMetrics = await (await fetch(`${serveUrl}/metrics`)).text();
  // (its registry declares the gauge, as serve alone sets it, but holds no series of it)
  expect(serveMetrics).not.toMatch(/^(helm_unstuck_admission_policy_enforced|helm_unstuck_detector_\w+|helm_unstuck_release_pending_since_seconds)[{ ]/m);
  expect(serveMetrics).toMatch(/^helm_unstuck_truncation_scans_total\{result="scanned"\} 1$/m);
  expect(Object.keys((await (await fetch(`${serveUrl}/healthz`)).json()) as object)).not.toContain('admissionPolicy');
}, 240_000);
