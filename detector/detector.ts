// The detector: per cluster, a list and then a watch of Helm's pending records (Secrets and
// ConfigMaps, metadata only, by label selector), in all namespaces at once or, when the cluster's
// `namespaces` are configured, in each of them (decisions/namespaces.ts watchScopes: what a
// namespaced identity may do). Event-driven: at rest it holds two open watches per scope and asks
// nothing else. A watch the server closes on its timeout resumes from the
// last resourceVersion; an expired one (410 Gone) lists again; a disconnect retries with backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Kube,
  RecordWatcher,
  type RecordEvent,
  type RecordKind,
  type RecordMeta,
  type RunningWatch,
} from '../activities/kubernetes';
import { PENDING_RECORDS_SELECTOR } from '../decisions/helm';
import { watchScopes } from '../decisions/namespaces';
import { stuckReleases, type StuckRelease } from '../decisions/pending-releases';

const KINDS: RecordKind[] = ['Secret', 'ConfigMap'];

export type RestartReason = 'expired' | 'disconnected';

export interface ClusterStatus {
  /** Listed and watching both kinds of record in every scope (namespace): its view is current. */
  inSync: boolean;
  /** The API server answered the detector's last request. */
  up: boolean;
  /** Last time the view was confirmed current (a list, a watch accepted, an event), Unix seconds. */
  lastSyncSeconds?: number;
  stuckReleases: number;
  restarts: Record<RestartReason, number>;
  lastError?: string;
}

export interface DetectorOptions {
  log?: (line: string) => void;
  /** First retry delay after a failure; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout; random in [5, 10) minutes by default, as client-go does. */
  watchTimeoutSeconds?: () => number;
}

interface KindState {
  kind: RecordKind;
  /** The namespace listed and watched; undefined: all of them. */
  namespace: string | undefined;
  records: Map<string, RecordMeta>;
  synced: boolean;
}

/** A cluster's watcher, and the namespaces to watch in (unset: all, with one cluster-wide watch per kind). */
export interface ClusterSource {
  watcher: RecordWatcher;
  namespaces?: readonly string[];
}

class ClusterWatch {
  readonly kinds: KindState[];
  up = false;
  lastSyncSeconds: number | undefined;
  lastError: string | undefined;
  readonly restarts: Record<RestartReason, number> = { expired: 0, disconnected: 0 };
  readonly watcher: RecordWatcher;
  constructor(
    readonly name: string,
    source: ClusterSource,
  ) {
    this.watcher = source.watcher;
    this.kinds = watchScopes(source).flatMap((namespace) => KINDS.map((kind) => ({ kind, namespace, records: new Map(), synced: false })));
  }
  synced(): void {
    this.up = true;
    this.lastSyncSeconds = Date.now() / 1000;
  }
}

export class Detector {
  private readonly clusters: ClusterWatch[];
  private readonly stopping = new AbortController();
  private readonly watches = new Set<RunningWatch>();
  private loops: Promise<void>[] = [];
  private readonly log: (line: string) => void;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly watchTimeout: () => number;

  constructor(clusters: Record<string, RecordWatcher | ClusterSource>, opts: DetectorOptions = {}) {
    this.clusters = Object.entries(clusters).map(([name, w]) => new ClusterWatch(name, w instanceof RecordWatcher ? { watcher: w } : w));
    this.log = opts.log ?? (() => {});
    this.backoffMs = opts.backoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.watchTimeout = opts.watchTimeoutSeconds ?? (() => Math.floor(300 + Math.random() * 300));
  }

  /** The detector of a configuration: each configured cluster through its context, in its namespaces if it lists them. */
  static forConfig(config: { kubeconfig?: string | undefined; clusters: Record<string, { context?: string | undefined; namespaces?: readonly string[] | undefined }> }, opts: DetectorOptions = {}): Detector {
    const contexts = Object.fromEntries(Object.entries(config.clusters).map(([name, c]) => [name, { context: c.context ?? name, ...(c.namespaces ? { namespaces: c.namespaces } : {}) }]));
    return Detector.forClusters(config.kubeconfig, contexts, opts);
  }

  /** One watcher per configured cluster, from a kubeconfig and each cluster's context (and namespaces). */
  static forClusters(kubeconfig: string | undefined, contexts: Record<string, string | { context: string; namespaces?: readonly string[] }>, opts: DetectorOptions = {}): Detector {
    const watchers = Object.fromEntries(
      Object.entries(contexts).map(([cluster, c]) => {
        const { context, namespaces } = typeof c === 'string' ? { context: c, namespaces: undefined } : c;
        const watcher = new RecordWatcher(Kube.fromKubeconfig({ ...(kubeconfig ? { file: kubeconfig } : {}), context }).kc);
        return [cluster, { watcher, ...(namespaces ? { namespaces } : {}) }];
      }),
    );
    return new Detector(watchers, opts);
  }

  start(): this {
    this.loops = this.clusters.flatMap((c) => c.kinds.map((k) => this.run(c, k)));
    return this;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const w of this.watches) w.stop();
    await Promise.all(this.loops);
  }

  /** The stuck releases each cluster holds now: one per release, whatever its number of records. */
  stuck(): (StuckRelease & { cluster: string })[] {
    return this.clusters.flatMap((c) =>
      stuckReleases(c.kinds.flatMap((k) => [...k.records.values()])).map((s) => ({ cluster: c.name, ...s })),
    );
  }

  status(): Record<string, ClusterStatus> {
    const stuck = this.stuck();
    return Object.fromEntries(
      this.clusters.map((c) => [
        c.name,
        {
          inSync: c.kinds.every((k) => k.synced),
          up: c.up,
          ...(c.lastSyncSeconds !== undefined ? { lastSyncSeconds: c.lastSyncSeconds } : {}),
          stuckReleases: stuck.filter((s) => s.cluster === c.name).length,
          restarts: { ...c.restarts },
          ...(c.lastError ? { lastError: c.lastError } : {}),
        },
      ]),
    );
  }

  /** Resolves when every cluster is in sync (tests, the demo). */
  async synced(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!Object.values(this.status()).every((s) => s.inSync)) {
      if (Date.now() > until) throw new Error(`detector not in sync after ${timeoutMs} ms: ${JSON.stringify(this.status())}`);
      await sleep(50);
    }
  }

  private async run(c: ClusterWatch, state: KindState): Promise<void> {
    const { kind, namespace } = state;
    const signal = this.stopping.signal;
    let resourceVersion: string | undefined;
    let delay = this.backoffMs;
    const failed = async (reason: RestartReason, message: string) => {
      state.synced = false;
      c.restarts[reason]++;
      c.lastError = message;
      this.log(`detector: ${c.name}${namespace === undefined ? '' : `/${namespace}`}: ${message}; retrying in ${delay} ms`);
      await sleep(delay, undefined, { signal }).catch(() => undefined);
      delay = Math.min(delay * 2, this.maxBackoffMs);
    };
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const listed = await c.watcher.list(kind, PENDING_RECORDS_SELECTOR, namespace);
          state.records = new Map(listed.records.map((r) => [r.uid, r]));
          resourceVersion = listed.resourceVersion;
          c.synced();
        }
        const timeout = this.watchTimeout();
        const started = Date.now();
        const onEvent = (e: RecordEvent) => {
          if (e.type === 'BOOKMARK') resourceVersion = e.resourceVersion || resourceVersion;
          else {
            if (e.type === 'DELETED') state.records.delete(e.record.uid);
            else state.records.set(e.record.uid, e.record);
            resourceVersion = e.record.resourceVersion || resourceVersion;
          }
          c.synced();
        };
        const w = await c.watcher.start(kind, PENDING_RECORDS_SELECTOR, resourceVersion, timeout, onEvent, signal, namespace);
        this.watches.add(w);
        if (w.isOpen()) {
          state.synced = true;
          c.synced();
          c.lastError = undefined;
          delay = this.backoffMs;
        }
        const end = await w.ended;
        this.watches.delete(w);
        if (signal.aborted) break;
        if (end.kind === 'expired') {
          // The resourceVersion is gone (compacted, or an API server restarted): list afresh.
          resourceVersion = undefined;
          await failed('expired', end.error.message);
        } else if (end.kind === 'failed') {
          c.up = false;
          await failed('disconnected', end.error.message);
        } else if (Date.now() - started < timeout * 1000 - 1000) {
          // Closed before its timeout: the connection was cut or the API server went away.
          await failed('disconnected', `${kind} watch closed early`);
        }
      } catch (err) {
        c.up = false;
        await failed('disconnected', (err as Error).message);
      }
    }
  }
}
