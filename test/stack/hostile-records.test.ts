// A tenant who can create Secrets labelled owner=helm plants a fake pending release record whose
// payload is a gzip bomb (680 KB stored, 500 MB inflated), next to a genuinely stuck release.
// `scan` and `readReleaseHistory` must report it, act on nothing, and stay small.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import * as k8s from '@kubernetes/client-node';
import { encodePayload, MAX_RELEASE_BYTES } from '../../activities/helm-storage';
import { markHealthy } from './deployments';
import { helmFor, stackActivities, CLUSTER, unique } from './fixtures';
import { gitlabProject, incidentId, newWorker, remediationInput, startRig } from './incident-rig';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const ROOT = join(__dirname, '..', '..');
const BUILT = join(ROOT, '.test-build', `hostile-records-${process.pid}`);
const RSS_LIMIT_KB = 300 * 1024;

function core(): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sharedStack().kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}

/** What Helm would store, but 500 MB of spaces: base64 of the gzip is the Secret's value. */
async function gzipBomb(): Promise<string> {
  // Streamed from one 5 MB chunk, so the test itself never holds 500 MB.
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const chunk = Buffer.alloc(5 * 1024 * 1024, 0x20);
  for (let i = 0; i < 100; i++) if (!gz.write(chunk)) await once(gz, 'drain');
  gz.end();
  await once(gz, 'end');
  return Buffer.concat(out).toString('base64');
}

/** Every Secret in the namespace, by name, with its resourceVersion: "nothing changed" is this, unchanged. */
async function secretsIn(namespace: string): Promise<Record<string, string>> {
  const list = await core().listNamespacedSecret({ namespace });
  return Object.fromEntries(list.items.map((s) => [s.metadata!.name!, s.metadata!.resourceVersion!]));
}

let namespace: string;
let before: Record<string, string>;
const planted = 'sh.helm.release.v1.planted.v1';

beforeAll(async () => {
  // The CLI as installed runs compiled (tsx's compiler alone would add ~50 MB to the process). It is
  // compiled into a folder of this test's own inside the clone (node_modules and package.json are
  // found above it), never into dist/, which other tests and a running demo may be using.
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', BUILT], { cwd: ROOT });
  namespace = unique('bomb');
  await makeStuck['pending-upgrade'](helmFor(3), { release: 'genuine', namespace });
  const value = await gzipBomb();
  expect(value.length).toBeLessThan(700 * 1024);
  await core().createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: planted, labels: { owner: 'helm', name: 'planted', status: 'pending-upgrade', version: '1' } },
      type: 'helm.sh/release.v1',
      // The API's `data` is base64 of the stored bytes; Helm's stored bytes are base64 of the gzip.
      data: { release: Buffer.from(value).toString('base64') },
    },
  });
  before = await secretsIn(namespace);
}, 300_000);
afterAll(() => rmSync(BUILT, { recursive: true, force: true }));

test('scan, as its own process: lists the genuine release as stuck and the bomb as unreadable, under 300 MB', async () => {
  // GNU time's %M is the child's peak resident set, in KiB: the whole process, decoding included.
  const { stdout, stderr } = await promisify(execFile)(
    '/usr/bin/time',
    ['-f', 'maxrss=%M', process.execPath, join(BUILT, 'cli', 'main.js'), 'scan', '--kubeconfig', sharedStack().kubeconfig, '-n', namespace, '-o', 'json'],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  const maxRssKb = Number(/maxrss=(\d+)/.exec(stderr)?.[1]);
  console.log(`scan with a planted gzip bomb: peak RSS ${Math.round(maxRssKb / 1024)} MiB (cap ${MAX_RELEASE_BYTES / 1024 / 1024} MiB)`);
  expect(maxRssKb).toBeGreaterThan(0);
  expect(maxRssKb).toBeLessThan(RSS_LIMIT_KB);
  const result = JSON.parse(stdout) as { stuck: { release: string }[]; unreadable: { object: string; reason: string }[] };
  expect(result.stuck.map((s) => s.release)).toEqual(['genuine']);
  expect(result.unreadable).toEqual([
    { object: `Secret ${namespace}/${planted}`, reason: expect.stringMatching(/over the 32 MiB cap: not a readable Helm release/) },
  ]);
  expect(await secretsIn(namespace)).toEqual(before);
}, 120_000);

test('readReleaseHistory refuses the planted release with a clear error and still reads the genuine one', async () => {
  const acts = stackActivities();
  await expect(acts.readReleaseHistory({ cluster: CLUSTER, namespace, release: 'planted' })).rejects.toMatchObject({
    type: 'NotAHelmRelease',
    nonRetryable: true,
    message: expect.stringMatching(new RegExp(`Secret ${namespace}/${planted}: the decompressed release data is over the 32 MiB cap`)),
  });
  const genuine = await acts.readReleaseHistory({ cluster: CLUSTER, namespace, release: 'genuine' });
  expect(genuine.state).toMatchObject({ kind: 'Locked' });
  expect(await secretsIn(namespace)).toEqual(before);
  // No backup was written, nothing was deleted or rewritten: the same Secrets, same versions.
  expect(Object.keys(before).filter((n) => n.startsWith('helm-unstuck.backup.'))).toEqual([]);
}, 120_000);

test('a release whose manifest is not YAML: readLiveObjects refuses it for good, quoting none of it', async () => {
  // Helm's labels and payload, but a manifest no YAML parser reads; the library's own message
  // would show the lines around the fault, a Secret's value among them.
  const marker = 'hunter2-not-for-history';
  const payload = {
    name: 'badyaml',
    version: 1,
    namespace,
    info: { status: 'pending-install' },
    manifest: `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ${marker}\n    oops: [\n`,
  };
  await core().createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'sh.helm.release.v1.badyaml.v1', labels: { owner: 'helm', name: 'badyaml', status: 'pending-install', version: '1' } },
      type: 'helm.sh/release.v1',
      data: { release: encodePayload('Secret', payload) },
    },
  });
  try {
    const failure = await stackActivities()
      .readLiveObjects({ cluster: CLUSTER, namespace, release: 'badyaml', driver: 'secret', pending: { revision: 1, objectName: 'sh.helm.release.v1.badyaml.v1' } })
      .then(() => undefined, (err: unknown) => err as Error & { type?: string; nonRetryable?: boolean });
    expect(failure).toMatchObject({
      type: 'NotAHelmRelease',
      nonRetryable: true,
      message: `${namespace}/sh.helm.release.v1.badyaml.v1: the manifest of revision 1 is not valid YAML (line 7, column 9)`,
    });
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain(marker);
  } finally {
    await core().deleteNamespacedSecret({ namespace, name: 'sh.helm.release.v1.badyaml.v1' });
  }
}, 60_000);

test('the workflow for the planted release ends failed, saying it is not a readable Helm release, and acts on nothing', async () => {
  const rig = await startRig();
  try {
    await markHealthy(namespace);
    const { project } = gitlabProject(rig.gitlab);
    const tq = unique('bomb');
    const worker = await newWorker(rig, tq);
    const o = { release: 'planted', namespace, project };
    const result = await worker.runUntil(
      rig.env.client.workflow.execute('remediateStuckRelease', { taskQueue: tq, workflowId: incidentId(o), args: [remediationInput(o)] }),
    );
    expect(result).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/readReleaseHistory failed: .*over the 32 MiB cap: not a readable Helm release/) });
    expect((result as { unlock?: unknown }).unlock).toBeUndefined();
    expect(await secretsIn(namespace)).toEqual(before);
    // Nothing was retried into a loop either: one attempt, refused for good.
    expect(rig.gitlab.calls.filter((c) => c.method === 'POST')).toEqual([]);
  } finally {
    await rig.stop();
  }
}, 180_000);
