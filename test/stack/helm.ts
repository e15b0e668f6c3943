// Real helm, bound to one binary, one kubeconfig and its own HELM_* folders.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/repo';
import { LEASH } from './process';

export type HelmMajor = 3 | 4;
export type HelmDriver = 'secret' | 'configmap';

export const TINY_CHART = join(REPO_ROOT, 'test', 'fixtures', 'charts', 'tiny');
/** helm-unstuck's own chart. */
export const OWN_CHART = join(REPO_ROOT, 'deploy', 'chart', 'helm-unstuck');

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One row of `helm history -o json`. */
export interface HistoryRow {
  revision: number;
  status: string;
  chart: string;
  app_version: string;
  description: string;
}

/** One row of `helm list --all -o json`. */
export interface ListRow {
  name: string;
  namespace: string;
  revision: string;
  status: string;
  chart: string;
}

export class Helm {
  constructor(
    readonly major: HelmMajor,
    readonly bin: string,
    readonly kubeconfig: string,
    /** Folder for helm's cache, config and data, so tests never touch the user's. */
    readonly home: string,
    readonly driver: HelmDriver = 'secret',
  ) {
    mkdirSync(home, { recursive: true });
  }

  withDriver(driver: HelmDriver): Helm {
    return new Helm(this.major, this.bin, this.kubeconfig, this.home, driver);
  }

  /** `--wait` that blocks until resources are ready, in this major version's spelling. */
  get waitFlag(): string {
    return this.major === 4 ? '--wait=watcher' : '--wait';
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KUBECONFIG: this.kubeconfig,
      HELM_DRIVER: this.driver,
      HELM_CACHE_HOME: join(this.home, 'cache'),
      HELM_CONFIG_HOME: join(this.home, 'config'),
      HELM_DATA_HOME: join(this.home, 'data'),
      HELM_CONTENT_CACHE: join(this.home, 'content'),
      // Keep helm from looking for plugins or repositories anywhere else.
      HELM_PLUGINS: join(this.home, 'plugins'),
    };
  }

  run(args: string[], timeoutMs = 60_000): Promise<HelmResult> {
    return new Promise((ok) => {
      execFile(this.bin, args, { env: this.env(), timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        ok({ code, stdout, stderr });
      });
    });
  }

  /** Run and fail the test with helm's own words if helm fails. */
  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** A long-running helm (one that blocks on --wait), on a leash so it dies with this process. */
  spawn(args: string[]): ChildProcess {
    return spawn(LEASH, [String(process.pid), '--', this.bin, ...args], {
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** The release's history, oldest first; empty when helm knows no such release. */
  async history(release: string, namespace: string): Promise<HistoryRow[]> {
    const r = await this.run(['history', release, '-n', namespace, '-o', 'json', '--max', '1000']);
    if (r.code !== 0) {
      if (/not found/.test(r.stderr)) return [];
      throw new Error(`helm history ${release} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as HistoryRow[];
  }

  /** `helm list --all`: every release whatever its status (Helm 4 lists them all by default). */
  async list(namespace: string): Promise<ListRow[]> {
    const all = this.major === 3 ? ['--all'] : [];
    return JSON.parse(await this.ok(['list', ...all, '-n', namespace, '-o', 'json'])) as ListRow[];
  }

  /** `helm status -o json`'s status and revision. */
  async status(release: string, namespace: string): Promise<{ status: string; revision: number }> {
    const out = JSON.parse(await this.ok(['status', release, '-n', namespace, '-o', 'json'])) as {
      version: number;
      info: { status: string };
    };
    return { status: out.info.status, revision: out.version };
  }
}
