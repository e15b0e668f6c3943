// Watching Helm's pending records (the detector, detector/detector.ts). Metadata only, by label
// selector, across all namespaces: what it costs grows with the number of pending records, not
// with the number of releases.
import * as k8s from '@kubernetes/client-node';
import { PooledAuth } from './auth';
import type { RecordKind } from './client';
import { KubeError, KubeExpiredError, KubeForbiddenError, KubeUnavailableError } from './errors';
import { call, METADATA_ONLY, type K8sRecord } from './request';

/** A record's identity and labels: never its data. */
export interface RecordMeta {
  kind: RecordKind;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  /** The API server's creation time, Unix seconds (a fallback when Helm's createdAt is missing). */
  createdSeconds?: number;
}

export type RecordEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; record: RecordMeta } | { type: 'BOOKMARK'; resourceVersion: string };

/** How a watch ended: the server closed it on its timeout (resume), or it failed. */
export type WatchEnd = { kind: 'closed' } | { kind: 'expired'; error: KubeExpiredError } | { kind: 'failed'; error: KubeError };

export interface RunningWatch {
  /** Settles once, when the watch ends for any reason (never rejects). */
  ended: Promise<WatchEnd>;
  /** True while the API server streams events. */
  isOpen(): boolean;
  stop(): void;
}

const WATCH_METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/** Where a kind of record is listed and watched: in all namespaces, or in one (a namespaced identity). */
const recordsPath = (kind: RecordKind, namespace?: string) =>
  `/api/v1/${namespace === undefined ? '' : `namespaces/${encodeURIComponent(namespace)}/`}${kind === 'Secret' ? 'secrets' : 'configmaps'}`;

function toMeta(kind: RecordKind, o: { metadata?: k8s.V1ObjectMeta }): RecordMeta {
  const m = o.metadata ?? {};
  const created = m.creationTimestamp ? new Date(m.creationTimestamp).getTime() / 1000 : NaN;
  return {
    kind,
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    resourceVersion: m.resourceVersion ?? '',
    labels: { ...(m.labels ?? {}) },
    ...(Number.isFinite(created) ? { createdSeconds: created } : {}),
  };
}

export class RecordWatcher {
  private readonly watch: k8s.Watch;

  constructor(private readonly kc: k8s.KubeConfig) {
    // client-node's Watch has no header option: hand it a config that asks for metadata only.
    const metadataOnly = {
      getCurrentCluster: () => kc.getCurrentCluster(),
      applyToFetchOptions: async (opts: object) => {
        const init = await kc.applyToFetchOptions(opts as never);
        (init.headers as unknown as Headers).set('Accept', WATCH_METADATA_ONLY);
        return init;
      },
    };
    this.watch = new k8s.Watch(metadataOnly as unknown as k8s.KubeConfig);
  }

  /** Every record matching `labelSelector` in `namespace` (unset: all), and the resourceVersion to watch from. */
  async list(kind: RecordKind, labelSelector: string, namespace?: string): Promise<{ records: RecordMeta[]; resourceVersion: string }> {
    const core = new PooledAuth(this.kc).client(k8s.CoreV1Api);
    const records: RecordMeta[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = { labelSelector, limit: 500, _continue: cont };
      const list: { items: K8sRecord[]; metadata?: k8s.V1ListMeta } = await call(
        `list ${kind}s (${labelSelector})${namespace === undefined ? '' : ` in ${namespace}`}`,
        (o) =>
          namespace === undefined
            ? kind === 'Secret'
              ? core.listSecretForAllNamespaces(page, o)
              : core.listConfigMapForAllNamespaces(page, o)
            : kind === 'Secret'
              ? core.listNamespacedSecret({ ...page, namespace }, o)
              : core.listNamespacedConfigMap({ ...page, namespace }, o),
        METADATA_ONLY,
      );
      for (const item of list.items ?? []) records.push(toMeta(kind, item));
      resourceVersion = list.metadata?.resourceVersion ?? resourceVersion;
      cont = list.metadata?._continue || undefined;
    } while (cont);
    return { records, resourceVersion };
  }

  /**
   * Watch from `resourceVersion`; resolves once the API server has accepted the watch (or it
   * ended first: see `ended`). The server closes it after `timeoutSeconds`.
   */
  async start(
    kind: RecordKind,
    labelSelector: string,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (e: RecordEvent) => void,
    signal?: AbortSignal,
    namespace?: string,
  ): Promise<RunningWatch> {
    let open = true;
    let resolve: (e: WatchEnd) => void = () => {};
    const ended = new Promise<WatchEnd>((r) => (resolve = r));
    const settle = (e: WatchEnd) => {
      open = false;
      resolve(e);
    };
    let expired: KubeExpiredError | undefined;
    const what = `watch ${kind}s (${labelSelector})${namespace === undefined ? '' : ` in ${namespace}`}`;
    const params = { labelSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    const watching = this.watch.watch(
      recordsPath(kind, namespace),
      params,
      (type: string, obj: { metadata?: k8s.V1ObjectMeta; code?: number; message?: string; reason?: string }) => {
        if (type === 'ERROR') {
          // The API server reports an expired resourceVersion inside the stream, then closes it.
          const message = `${what}: ${obj.message ?? 'error event'}`;
          if (obj.code === 410) expired = new KubeExpiredError(message, 410, obj.reason);
          else settle({ kind: 'failed', error: new KubeError(message, obj.code ?? 0, obj.reason) });
        } else if (type === 'BOOKMARK') onEvent({ type, resourceVersion: obj.metadata?.resourceVersion ?? '' });
        else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, record: toMeta(kind, obj) });
      },
      (err: unknown) => {
        if (expired) return settle({ kind: 'expired', error: expired });
        if (!err) return settle({ kind: 'closed' });
        const code = (err as { statusCode?: number }).statusCode;
        if (code === 410) return settle({ kind: 'expired', error: new KubeExpiredError(`${what}: HTTP 410`, 410) });
        const e = err as { code?: string; message?: string };
        const error = code
          ? code === 401 || code === 403
            ? new KubeForbiddenError(`${what}: HTTP ${code}`, code)
            : new KubeError(`${what}: HTTP ${code}`, code)
          : new KubeUnavailableError(`${what}: ${e.message ?? String(err)}`, 0, e.code);
        settle({ kind: 'failed', error });
      },
    );
    // Stopping before the API server answered: give up waiting, and abort once it answers.
    const stopped = new Promise<undefined>((r) => signal?.addEventListener('abort', () => r(undefined), { once: true }));
    const controller = await Promise.race([watching, stopped]);
    if (!controller) {
      void watching.then((c) => c.abort());
      settle({ kind: 'closed' });
      return { ended, isOpen: () => false, stop: () => {} };
    }
    return { ended, isOpen: () => open, stop: () => controller.abort() };
  }
}
