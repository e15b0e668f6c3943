// tools/stack (and so tools/build) use binaries the user already has, by envtest's and the
// SDK's conventions, and refuse ones that are not what they claim to be.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const STACK = join(__dirname, '..', '..', 'tools', 'stack');
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  promisify(execFile)(STACK, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );

let dir: string;
const fake = (name: string, version = '') => {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n[ "$1" = version ] && echo ${version}\nexit 0\n`);
  chmodSync(p, 0o755);
  return p;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hu-tools-'));
  mkdirSync(join(dir, 'assets'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('every override is used instead of the tools cache', async () => {
  const temporal = fake('temporal');
  mkdirSync(join(dir, 'server'));
  const server = fake('server/temporal-server');
  fake('server/temporal-sql-tool');
  fake('assets/kube-apiserver');
  fake('assets/etcd');
  const helm3 = fake('helm3', 'v3.99.0');
  const helm4 = fake('helm4', 'v4.99.0');
  const proxy = fake('oauth2-proxy');
  const provider = fake('oidc-provider');
  const r = await run(['--env'], { TEMPORAL_CLI_PATH: temporal, TEMPORAL_SERVER_BIN: server, KUBEBUILDER_ASSETS: join(dir, 'assets'), HELM_BIN: helm3, HELM4_BIN: helm4, OAUTH2_PROXY_BIN: proxy, OIDC_PROVIDER_BIN: provider, HELM_UNSTUCK_TOOLS_DIR: join(dir, 'empty-cache') });
  expect(r.code).toBe(0);
  expect(r.out).toBe(
    [
      `TEMPORAL_CLI_PATH=${temporal}`,
      `TEMPORAL_SERVER_BIN=${server}`,
      `KUBE_APISERVER_BIN=${join(dir, 'assets', 'kube-apiserver')}`,
      `ETCD_BIN=${join(dir, 'assets', 'etcd')}`,
      `HELM3_BIN=${helm3}`,
      `HELM4_BIN=${helm4}`,
      `OAUTH2_PROXY_BIN=${proxy}`,
      `OIDC_PROVIDER_BIN=${provider}`,
      '',
    ].join('\n'),
  );
});

test('missing tools are named, with what to run', async () => {
  const r = await run(['--check'], { HELM_UNSTUCK_TOOLS_DIR: join(dir, 'empty-cache') });
  expect(r.code).not.toBe(0);
  expect(r.err).toMatch(/tools: not built: temporal .* Run: npm run tools/);
});

test('an override that is not what it claims is refused', async () => {
  const r1 = await run(['--path', 'helm4'], { HELM4_BIN: fake('old-helm', 'v3.1.0') });
  expect(r1).toMatchObject({ code: 1, err: expect.stringMatching(/HELM4_BIN=.* is not helm v4/) });
  const r2 = await run(['--path', 'etcd'], { KUBEBUILDER_ASSETS: join(dir, 'assets') });
  expect(r2).toMatchObject({ code: 1, err: expect.stringMatching(/KUBEBUILDER_ASSETS=.* has no executable etcd/) });
  const r3 = await run(['--path', 'temporal'], { TEMPORAL_CLI_PATH: join(dir, 'nope') });
  expect(r3).toMatchObject({ code: 1, err: expect.stringMatching(/TEMPORAL_CLI_PATH=.* is not an executable/) });
  const r4 = await run(['--path', 'oauth2-proxy'], { OAUTH2_PROXY_BIN: join(dir, 'nope') });
  expect(r4).toMatchObject({ code: 1, err: expect.stringMatching(/OAUTH2_PROXY_BIN=.* is not an executable/) });
  const r5 = await run(['--path', 'oidc-provider'], { OIDC_PROVIDER_BIN: join(dir, 'nope') });
  expect(r5).toMatchObject({ code: 1, err: expect.stringMatching(/OIDC_PROVIDER_BIN=.* is not an executable/) });
  const r6 = await run(['--path', 'temporal-server'], { TEMPORAL_SERVER_BIN: fake('temporal-server') });
  expect(r6).toMatchObject({ code: 1, err: expect.stringMatching(/TEMPORAL_SERVER_BIN=.* has no executable temporal-sql-tool beside it/) });
});
