// An incident on the Temporal production teams run: temporal-server on PostgreSQL, SQL visibility,
// the namespace helm-unstuck, mTLS on the frontend; the worker and the CLIs reach it through an
// envconfig profile with a client certificate. Both the server and its database are restarted in
// the middle: at the approval hold, and right after the unlock (the worker stopped between the
// unlock's work and its result reaching Temporal, which is down then). Visibility is SQL's.
import * as k8s from '@kubernetes/client-node';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, main } from '../../cli/main';
import { connectClient } from '../../client/connect';
import { startRemediation } from '../../client/incidents';
import { temporalProfile } from '../../worker/temporal';
import { FakeGitlab } from '../fake-gitlab/server';
import { WorkerProcess } from './chaos';
import { markHealthy } from './deployments';
import { helmFor, unique } from './fixtures';
import { decideVerified, GITLAB_TOKEN, gitlabProject, incidentId, operatorConfig, remediationInput, taskQueue, trace, waitForStatus } from './incident-rig';
import { NAMESPACE, NO_CERT_PROFILE, startProductionTemporal, type ProductionTemporal } from './production-temporal';
import { removeDir, tempDir, waitUntil } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

let temporal: ProductionTemporal;
let gitlab: FakeGitlab;
let dir: string;
let bundleFile: string;
beforeAll(async () => {
  dir = tempDir('prod-incident');
  const [t, bundle] = await Promise.all([
    startProductionTemporal(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never }),
  ]);
  temporal = t;
  // The incidents' search attributes, as an operator registers them on their own server (the test
  // worker process, unlike the product's worker, does not register them at start).
  let err = '';
  const setup = await main(['temporal', 'setup'], { out: () => undefined, err: (e) => (err += e), env: temporal.env() });
  if (setup !== EXIT.ok) throw new Error(`helm-unstuck temporal setup exited ${setup}: ${err}`);
  bundleFile = join(dir, 'workflow-bundle.js');
  writeFileSync(bundleFile, bundle.code);
  gitlab = new FakeGitlab({ token: GITLAB_TOKEN });
  await gitlab.start();
}, 300_000);
afterAll(async () => {
  await gitlab?.stop();
  await temporal?.stop();
  if (dir) await removeDir(dir);
});

test('the frontend refuses a client without a certificate, and answers one with it', async () => {
  // TLS 1.3 completes the handshake before the server checks the certificate, so the client sees
  // either the alert or the connection closed under it, whichever comes first.
  await expect(temporal.cli(['workflow', 'count'], NO_CERT_PROFILE)).rejects.toThrow(/failed reaching server/);
  // helm-unstuck's CLI and worker, through the same profile, are refused at connect.
  await expect(connectClient(temporal.env(NO_CERT_PROFILE))).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:\d+/);
  const { connectionOptions } = temporalProfile(temporal.env(NO_CERT_PROFILE));
  await expect(NativeConnection.connect(connectionOptions)).rejects.toThrow();
  // The same server through the profile with a certificate: the refusal above is the certificate's.
  const { stdout } = await temporal.cli(['operator', 'namespace', 'describe', '--namespace', NAMESPACE, '-o', 'json']);
  expect(JSON.parse(stdout)).toMatchObject({ namespaceInfo: { name: NAMESPACE } });
});

test('custom search attributes can be registered on the namespace (SQL visibility)', async () => {
  await temporal.addSearchAttributes({ HelmUnstuckTestAttribute: 'Keyword' });
  await temporal.addSearchAttributes({ HelmUnstuckTestAttribute: 'Keyword' }); // idempotent
  const { stdout } = await temporal.cli(['operator', 'search-attribute', 'list', '-o', 'json']);
  expect(stdout).toContain('HelmUnstuckTestAttribute');
});

test('an incident ends unstuck-and-verified through restarts of temporal-server and PostgreSQL at the hold and after the unlock', async () => {
  const helm = helmFor(4);
  const o = { release: unique('web'), namespace: unique('prod') };
  await makeStuck['pending-upgrade'](helm, o);
  await markHealthy(o.namespace);
  const { project } = gitlabProject(gitlab);
  gitlab.onRetry = (p, job) => gitlab.setJob(p, job.id, 'success', trace('helmfile-noop.txt'));
  const tq = taskQueue();
  const stack = { gitlab, bundleFile, temporal: { address: temporal.address }, cp: { kubeconfig: sharedStack().kubeconfig } };
  const profileEnv = { TEMPORAL_ADDRESS: undefined, ...temporal.env() };
  const worker = new WorkerProcess(stack, tq, operatorConfig({ gitlab }, { project }), 'unlockRelease:after', gitlab.url, profileEnv);
  const { client, close } = await connectClient(temporal.env());
  try {
    const { handle } = await startRemediation(client, remediationInput(o), tq);
    expect(handle.workflowId).toBe(incidentId(o));
    await waitForStatus(handle, (s) => s.hold === 'approval', 120_000);

    // At the approval hold: PostgreSQL restarted under a running server, then the server itself.
    await temporal.stopPostgres();
    await temporal.startPostgres();
    await temporal.stopServer();
    await temporal.startServer();
    await waitForStatus(handle, (s) => s.hold === 'approval', 120_000);
    // helm-unstuck's own CLI, through the same profile, sees the incident waiting.
    const out: string[] = [];
    const code = await main(['status', handle.workflowId], { out: (s) => out.push(s), err: (s) => out.push(s), env: temporal.env() });
    expect({ code, out: out.join('') }).toMatchObject({ code: EXIT.ok, out: expect.stringMatching(/waiting for approval/) });

    await decideVerified(client, handle.workflowId, { action: 'approve', by: 'alice', reason: 'stuck since the runner was killed' });
    // Right after the unlock: the record is deleted, its result not yet reported. Both go down.
    await worker.paused('unlockRelease:after');
    await temporal.stopServer();
    await temporal.stopPostgres();
    await temporal.startPostgres();
    await temporal.startServer();
    worker.resume();

    const result = await handle.result();
    expect(result.outcome).toBe('unstuck-and-verified');
    expect(result.unlock?.actions).toEqual([expect.objectContaining({ outcome: 'deleted' })]);
    const history = await handle.fetchHistory();
    const scheduled = (name: string) => history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
    expect(scheduled('unlockRelease')).toBe(1);
    expect(gitlab.retries()).toHaveLength(1);
    // Visibility is PostgreSQL's: a list query in helm-unstuck's namespace finds the finished incident.
    const listed = async () => {
      for await (const w of client.workflow.list({ query: `WorkflowId = '${handle.workflowId}' AND ExecutionStatus = 'Completed'` })) return w.workflowId;
      return undefined;
    };
    await waitUntil('the incident in SQL visibility', async () => (await listed()) === handle.workflowId, { timeoutMs: 30_000, intervalMs: 250 });
  } finally {
    await worker.kill();
    await close();
  }
  // One backup, and Helm's view: the previous revision deployed.
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sharedStack().kubeconfig);
  const backups = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: o.namespace, labelSelector: 'app.kubernetes.io/managed-by=helm-unstuck' });
  expect(backups.items).toHaveLength(1);
  expect(await helm.status(o.release, o.namespace)).toEqual({ status: 'deployed', revision: 1 });
}, 600_000);
