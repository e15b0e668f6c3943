// The OCI image built by tools/image, run with `buildah run --isolation chroot`: its own Node, as
// UID 65532, against the test API server. `npm run image` builds it and runs this file; `npm test`
// skips it (see docs/operating.md, "Install").
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../lib/repo';
import { writeKubeconfig } from './control-plane';
import { helmFor, unique } from './fixtures';
import { removeDir, tempDir } from './process';
import { sharedStack } from './shared';
import { makeStuck } from './stuck';

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = process.env.HELM_UNSTUCK_IMAGE ?? `helm-unstuck:${VERSION}`;
const wanted = process.env.HELM_UNSTUCK_IMAGE_TEST === '1';

/** buildah on tools/image's storage. */
function buildah(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return run(join(PACKAGE_ROOT, 'tools', 'image'), ['--buildah', ...args], { maxBuffer: 16 << 20 }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout, err: stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

let ctr = '';
let dir: string;
(wanted ? describe : describe.skip)(`the image ${IMAGE}`, () => {
  beforeAll(async () => {
    dir = tempDir('image');
    ctr = (await buildah('from', '--quiet', IMAGE)).out.trim();
    expect(ctr).not.toBe('');
  }, 300_000);
  afterAll(async () => {
    if (ctr) await buildah('rm', ctr);
    if (dir) await removeDir(dir);
  });
  const inImage = (...argv: string[]) => buildah('run', '--isolation', 'chroot', ...argv);

  test('is configured to serve as UID 65532, with OCI labels', async () => {
    const cfg = (JSON.parse((await buildah('inspect', '--type', 'image', IMAGE)).out) as { OCIv1: { config: Record<string, unknown> } }).OCIv1.config;
    expect(cfg).toMatchObject({ User: '65532:65532', Entrypoint: ['/usr/local/bin/helm-unstuck'], Cmd: ['serve'] });
    expect(cfg.Labels).toMatchObject({
      'org.opencontainers.image.title': 'helm-unstuck',
      'org.opencontainers.image.version': VERSION,
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.revision': expect.stringMatching(/^[0-9a-f]{40}$/),
      'org.opencontainers.image.created': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  test('runs its own Node as UID 65532, and holds no shell, test code or demo', async () => {
    expect(await inImage(ctr, '--', 'helm-unstuck', '--version')).toMatchObject({ code: 0, out: `${VERSION}\n` });
    const who = await inImage(ctr, '--', 'node', '-p', '[process.version, process.getuid(), process.execPath].join(" ")');
    expect(who).toMatchObject({ code: 0, out: `${process.version} 65532 /usr/bin/node\n` });
    expect((await inImage(ctr, '--', '/bin/sh', '-c', 'true')).code).not.toBe(0);
    const listing = await inImage(ctr, '--', 'node', '-e', 'console.log(require("fs").readdirSync("/usr/local/lib/node_modules/helm-unstuck/dist").join(" "))');
    expect(listing.out.trim().split(' ').sort()).toEqual(['activities', 'cli', 'client', 'decisions', 'detector', 'lib', 'report', 'server', 'worker', 'workflows']);
    expect(await inImage(ctr, '--', 'helm-unstuck', 'demo')).toMatchObject({ code: 1, err: expect.stringMatching(/the demo is not part of the installed package/) });
  });

  test('scans the test API server', async () => {
    const namespace = unique('img');
    await makeStuck['pending-upgrade'](helmFor(3), { release: 'stuck', namespace });
    // The container's user (65532) reads a copy of the kubeconfig and CA, mounted read-only.
    const stack = sharedStack();
    copyFileSync(stack.caFile, join(dir, 'ca.crt'));
    writeKubeconfig(join(dir, 'config'), { server: stack.server, caFile: '/kube/ca.crt', token: stack.adminToken, context: 'admin' });
    for (const f of ['ca.crt', 'config']) chmodSync(join(dir, f), 0o644);
    chmodSync(dir, 0o755);
    const r = await inImage('-v', `${dir}:/kube:ro`, ctr, '--', 'helm-unstuck', 'scan', '--kubeconfig', '/kube/config', '-n', namespace, '-o', 'json', '--fail-if-stuck');
    expect(r.code).toBe(3);
    const { stuck } = JSON.parse(r.out) as { stuck: { release: string; pendingRevisions: number[] }[] };
    expect(stuck.map((s) => [s.release, s.pendingRevisions])).toEqual([['stuck', [2]]]);
  }, 120_000);
});
