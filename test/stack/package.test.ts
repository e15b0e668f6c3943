// The npm package as a user gets it: `npm pack`, `npm install -g` into an empty prefix, then the
// installed `helm-unstuck` run from outside the clone (--help, scan, serve), with no test code in it.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../lib/repo';
import { listening } from '../../worker/dev-server';
import { helmFor, unique } from './fixtures';
import { TINY_CHART } from './helm';
import { freePort, LEASH, removeDir, tempDir, waitUntil } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let dir: string;
let tarball: string;
let bin: string;
// Nothing from the clone or from jest: node on PATH, a folder outside the clone as cwd.
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = tempDir('package');
  // `npm pack` runs the "prepare" script, which rebuilds dist/ from scratch: pack a copy of the
  // clone's files, so the clone's own dist/ (which other tests and a running demo use) is untouched.
  const stage = join(dir, 'stage');
  const { stdout: listed } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: PACKAGE_ROOT, maxBuffer: 64 << 20 });
  for (const f of listed.split('\0').filter((f) => f && existsSync(join(PACKAGE_ROOT, f)))) {
    mkdirSync(dirname(join(stage, f)), { recursive: true });
    copyFileSync(join(PACKAGE_ROOT, f), join(stage, f));
  }
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(stage, 'node_modules'));
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: stage, maxBuffer: 16 << 20 });
  tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, maxBuffer: 16 << 20 });
  bin = join(prefix, 'bin', 'helm-unstuck');
  env = { PATH: `/usr/bin:/bin`, HOME: dir, XDG_STATE_HOME: join(dir, 'state') };
}, 300_000);
afterAll(async () => {
  if (dir) await removeDir(dir);
});

/** A configuration `serve` accepts: one cluster (the test API server's context), its CI, an approver. */
function serveConfig(): string {
  const file = join(dir, 'config.json');
  const clusters = { local: { context: 'admin', gitlab: [{ project: 'ops/k8s-workloads', environment: 'local' }] } };
  writeFileSync(file, JSON.stringify({ clusters, policy: { approvers: ['alice'] }, kubeconfig: sharedStack().kubeconfig }));
  return file;
}

async function installed(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return run(bin, argv, { cwd: dir, env }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout, err: stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

test('the package holds the runtime and no test code, demo harness, benchmarks or rule generator', async () => {
  const files = (await run('tar', ['tzf', tarball])).stdout.trim().split('\n');
  expect(files).toEqual(expect.arrayContaining(['package/bin/helm-unstuck', 'package/dist/cli/main.js', 'package/dist/workflows/index.js', 'package/dist/detector/detector.js', 'package/tools/leash']));
  expect(files.filter((f) => /(^|\/)(test|demo|bench|deploy|fake-gitlab)(\/|$)|\.test\.js$/.test(f))).toEqual([]);
});

test('the installed command answers --version and --help, and says the demo runs from a clone', async () => {
  expect(existsSync(bin)).toBe(true);
  expect(await installed('--version')).toMatchObject({ code: 0, out: `${VERSION}\n` });
  expect(await installed('--help')).toMatchObject({ code: 0, out: expect.stringMatching(/^Usage: helm-unstuck \[options\] \[command\]\n\nFind and safely unlock Helm releases/) });
  expect(await installed('scan', '--help')).toMatchObject({ code: 0, out: expect.stringMatching(/^Usage: helm-unstuck scan/) });
  expect(await installed('demo')).toMatchObject({ code: 1, err: expect.stringMatching(/the demo is not part of the installed package: it runs from a clone/) });
});

test('the installed command scans the test API server', async () => {
  const namespace = unique('pkg');
  const helm = helmFor(3);
  await makeStuck['pending-upgrade'](helm, { release: 'stuck', namespace });
  await helm.ok(['install', 'fine', TINY_CHART, '-n', namespace]);
  const r = await installed('scan', '--kubeconfig', sharedStack().kubeconfig, '-n', namespace, '-o', 'json', '--fail-if-stuck');
  expect(r.code).toBe(3);
  const { stuck } = JSON.parse(r.out) as { stuck: { release: string; pendingRevisions: number[] }[] };
  expect(stuck.map((s) => [s.release, s.pendingRevisions])).toEqual([['stuck', [2]]]);
});

test('without Temporal configured or a temporal CLI, serve says what to set', async () => {
  const noTemporal = await run(bin, ['serve'], { cwd: dir, env: { ...env, HELM_UNSTUCK_CONFIG: serveConfig(), HELM_UNSTUCK_WEBHOOK_TOKEN: 'a-webhook-token-of-16+' } }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect(noTemporal).toMatchObject({ code: 1, stderr: expect.stringMatching(/no temporal CLI to start a local dev server: set TEMPORAL_ADDRESS, or TEMPORAL_CLI_PATH/) });
});

test('the installed serve starts its worker on a dev server from TEMPORAL_CLI_PATH and answers /healthz', async () => {
  const [port, devPort] = [await freePort(), await freePort()];
  const child = spawn(LEASH, [String(process.pid), '--', bin, 'serve'], {
    cwd: dir,
    env: {
      ...env,
      HELM_UNSTUCK_CONFIG: serveConfig(),
      HELM_UNSTUCK_WEBHOOK_TOKEN: 'a-webhook-token-of-16+',
      HELM_UNSTUCK_LISTEN: `127.0.0.1:${port}`,
      TEMPORAL_CLI_PATH: sharedStack().binaries.temporal,
      HELM_UNSTUCK_DEV_SERVER_PORT: String(devPort),
      HELM_UNSTUCK_DEV_SERVER_DB: join(dir, 'temporal.sqlite'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  try {
    const early = exited.then((code) => Promise.reject(new Error(`serve exited with ${code}: ${log}`)));
    early.catch(() => undefined); // read by the race only
    await Promise.race([waitUntil('installed serve /healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { timeoutMs: 120_000 }), early]);
    // serve runs the detector too: /healthz reports it for the one configured cluster.
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { ok: boolean; detector?: Record<string, unknown> };
    expect(health).toMatchObject({ ok: true });
    expect(Object.keys(health.detector ?? {})).toEqual(['local']);
    // The worker bundled the workflows from the installed package and serves the task queue.
    expect(log).toMatch(/started a local Temporal dev server on 127\.0\.0\.1:\d+/);
    expect(log).toMatch(/worker serving task queue "helm-unstuck"/);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  // Its dev server stopped with it.
  expect(await listening('127.0.0.1', devPort)).toBe(false);
}, 180_000);
