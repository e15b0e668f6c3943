// Starting and stopping the local stack's servers. Every server runs under ./leash, so it dies
// with the Node process that started it even when that process is SIGKILLed.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PACKAGE_ROOT as REPO, LEASH } from '../../lib/repo';
import { waitFor } from '../wait-for';

export { LEASH };

/** A fresh folder under the system temp dir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `helm-unstuck-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves once the process has exited (SIGTERM, then SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

export interface StartOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Start `command args` on a leash held by this process; output goes to logFile. */
export function startServer(name: string, command: string, args: string[], opts: StartOptions): Server {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(LEASH, [String(process.pid), '--', command, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Two sources into one file: neither may end it (the other may still write); 'close' does, once both are done.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('close', () => log.end());
  let done = false;
  const exit = new Promise<void>((ok) =>
    child.once('exit', () => {
      done = true;
      ok();
    }),
  );
  // Tests should not hang on a server that is still running when they finish.
  child.unref();
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  return {
    name,
    pid: child.pid,
    logFile: opts.logFile,
    exited: () => done,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Poll `probe` until it returns true (waitFor), failing at once if `server` exits first. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; server?: Server; intervalMs?: number },
): Promise<void> {
  const { server } = opts;
  if (!server) return void (await waitFor(what, probe, Boolean, opts));
  const failIf = () => (server.exited() ? `${server.name} exited early` : undefined);
  await waitFor(`${what} (log: ${server.logFile})`, probe, Boolean, { ...opts, failIf });
}

/** Paths of the stack's binaries, as resolved by tools/stack (overrides or the tools cache). */
export interface Binaries {
  temporal: string;
  /** temporal-server; temporal-sql-tool is beside it. */
  temporalServer: string;
  kubeApiserver: string;
  etcd: string;
  helm3: string;
  helm4: string;
  oauth2Proxy: string;
  oidcProvider: string;
}

export async function binaries(): Promise<Binaries> {
  const { stdout } = await promisify(execFile)(join(REPO, 'tools', 'stack'), ['--env']).catch(
    (err: { stderr?: string }) => {
      throw new Error(`the local stack is not built: ${err.stderr?.trim() ?? String(err)}`);
    },
  );
  const env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`tools/stack did not report ${k}`);
    return v;
  };
  return {
    temporal: need('TEMPORAL_CLI_PATH'),
    temporalServer: need('TEMPORAL_SERVER_BIN'),
    kubeApiserver: need('KUBE_APISERVER_BIN'),
    etcd: need('ETCD_BIN'),
    helm3: need('HELM3_BIN'),
    helm4: need('HELM4_BIN'),
    oauth2Proxy: need('OAUTH2_PROXY_BIN'),
    oidcProvider: need('OIDC_PROVIDER_BIN'),
  };
}
