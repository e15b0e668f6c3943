// The embedded default: a local Temporal dev server, started on demand when no Temporal server is
// configured. It keeps its state in a SQLite file, so incidents survive a worker restart.
import { execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { devServerSearchAttributeArgs } from '../client/temporal-setup';
import { CLONE_TOOLS_DIR, LEASH } from '../lib/repo';

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  /** False when a server was already listening and we joined it. */
  started: boolean;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  host?: string;
  port?: number;
  uiPort?: number;
  dbFile?: string;
  log?: (line: string) => void;
  /** Where TEMPORAL_CLI_PATH is read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function defaultDbFile(env = process.env): string {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'helm-unstuck', 'temporal-dev.sqlite');
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

/**
 * The temporal CLI: TEMPORAL_CLI_PATH; in a clone, the tools cache (built on first use); or one on
 * PATH. An installed package has no tools cache, so it needs TEMPORAL_CLI_PATH or PATH.
 */
export async function temporalCli(log: (l: string) => void, env = process.env): Promise<string> {
  const run = promisify(execFile);
  const configured = env.TEMPORAL_CLI_PATH;
  if (configured) {
    if (!isExecutable(configured)) throw new Error(`TEMPORAL_CLI_PATH=${configured} is not an executable`);
    return configured;
  }
  const stack = CLONE_TOOLS_DIR && join(CLONE_TOOLS_DIR, 'stack');
  if (stack) {
    try {
      return (await run(stack, ['--path', 'temporal'])).stdout.trim();
    } catch {
      // not built yet
    }
  }
  try {
    return (await run('sh', ['-c', 'command -v temporal'])).stdout.trim();
  } catch {
    // not on PATH either
  }
  if (!CLONE_TOOLS_DIR || !stack) {
    throw new Error(
      'no Temporal server configured (TEMPORAL_ADDRESS) and no temporal CLI to start a local dev server: set TEMPORAL_ADDRESS, or TEMPORAL_CLI_PATH, or put temporal on PATH',
    );
  }
  log('temporal CLI not found: building it once into the tools cache (a few minutes)…');
  await run(join(CLONE_TOOLS_DIR, 'build'), ['temporal'], { maxBuffer: 64 << 20 }).catch((err: { stderr?: string }) => {
    throw new Error(`could not build the temporal CLI: ${err.stderr ?? String(err)}`);
  });
  return (await run(stack, ['--path', 'temporal'])).stdout.trim();
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  const log = opts.log ?? (() => undefined);
  const address = `${host}:${port}`;
  if (await listening(host, port)) {
    log(`joining the Temporal server already listening on ${address}`);
    return { address, uiUrl: undefined, started: false, stop: async () => undefined };
  }
  const bin = await temporalCli(log, opts.env);
  const dbFile = opts.dbFile ?? defaultDbFile();
  mkdirSync(dirname(dbFile), { recursive: true });
  // The server's own log goes beside its database, not into the worker's output.
  const logFile = dbFile.replace(/(\.sqlite)?$/, '.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn(
    LEASH,
    [
      String(process.pid),
      '--',
      bin,
      'server',
      'start-dev',
      '--ip',
      host,
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--db-filename',
      dbFile,
      '--log-level',
      'warn',
      ...devServerSearchAttributeArgs(),
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((ok) =>
    child.once('exit', (code) => {
      exitCode = code;
      ok();
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await listening(host, port))) {
    if (exitCode !== undefined) throw new Error(`temporal server start-dev exited with ${exitCode}; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not listen on ${address} within 60s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const uiUrl = `http://${host}:${uiPort}`;
  log(`started a local Temporal dev server on ${address} (UI ${uiUrl}, state in ${dbFile}, log in ${logFile})`);
  return {
    address,
    uiUrl,
    started: true,
    async stop() {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
