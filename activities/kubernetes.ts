// The Kubernetes adapter: the only file that imports @kubernetes/client-node. Everything it
// returns is plain data; everything it throws is one of the Kube*Error types below.
import { createHash } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import type { AdmissionProbe } from '../decisions/admission-policy';
import type { DeploymentFacts, HpaFacts } from '../decisions/deployment-health';
import { abortedBecause, requestSignal } from './attempt';
import type { StoredObject } from './helm-storage';

export type RecordKind = StoredObject['kind'];

export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
  }
}
export class KubeNotFoundError extends KubeError {
  override name = 'KubeNotFoundError';
}
/** 409 Conflict: a precondition (uid, resourceVersion) no longer holds. */
export class KubeConflictError extends KubeError {
  override name = 'KubeConflictError';
}
export class KubeAlreadyExistsError extends KubeError {
  override name = 'KubeAlreadyExistsError';
}
/** 401/403: our identity may not do this; retrying will not help. */
export class KubeForbiddenError extends KubeError {
  override name = 'KubeForbiddenError';
}
/** The API server does not serve this kind (its CRD is not installed). */
export class KubeNotServedError extends KubeError {
  override name = 'KubeNotServedError';
}
/** The API server could not be reached or failed (5xx, 429, network): worth retrying. */
export class KubeUnavailableError extends KubeError {
  override name = 'KubeUnavailableError';
}

/** The release name of the forged record probeAdmissionPolicy offers (never stored: a dry run). */
export const ADMISSION_PROBE_RELEASE = 'helm-unstuck-admission-probe';

/** Each request's limit, well inside an activity's start-to-close timeout (2 minutes). */
export const KUBE_REQUEST_TIMEOUT_MS = 15_000;

function translate(err: unknown, what: string, signal?: AbortSignal): Error {
  if (err instanceof k8s.ApiException) {
    let reason: string | undefined;
    let message = `${what}: HTTP ${err.code}`;
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { reason?: string; message?: string };
      reason = body?.reason;
      if (body?.message) message = `${what}: ${body.message}`;
    } catch {
      // not a Status object
    }
    if (err.code === 404) return new KubeNotFoundError(message, 404, reason);
    if (err.code === 409 && reason === 'AlreadyExists') return new KubeAlreadyExistsError(message, 409, reason);
    if (err.code === 409) return new KubeConflictError(message, 409, reason);
    if (err.code === 401 || err.code === 403) return new KubeForbiddenError(message, err.code, reason);
    if (err.code === 429 || err.code >= 500) return new KubeUnavailableError(message, err.code, reason);
    return new KubeError(message, err.code, reason);
  }
  if (signal?.aborted) return new KubeUnavailableError(`${what}: ${abortedBecause(signal, KUBE_REQUEST_TIMEOUT_MS)}`, 0, 'Timeout');
  const e = err as { code?: string; message?: string };
  return new KubeUnavailableError(`${what}: ${e?.message ?? String(err)}`, 0, e?.code);
}

/**
 * client-node makes a new https.Agent for every request: a TLS handshake each time, no keep-alive,
 * and under load dozens of sockets and TLS contexts left for the garbage collector (83 at once at
 * 100 incidents, bench/scale.ts). This authenticates as client-node does, then
 * hands every request of one cluster the same pooled agent, made anew only when the kubeconfig's
 * TLS material changes (an exec plugin's rotated client certificate). Proxy agents stay as made.
 */
export class PooledAuth implements k8s.SecurityAuthentication {
  private pool: { key: string; agent: HttpsAgent } | undefined;

  constructor(private readonly kc: k8s.KubeConfig) {}

  getName(): string {
    return 'default';
  }

  async applySecurityAuthentication(ctx: k8s.RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(ctx);
    const made = ctx.getAgent();
    if (!made || made.constructor !== HttpsAgent) return;
    const o = (made as HttpsAgent).options;
    const key = createHash('sha256')
      .update(JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]))
      .digest('hex');
    if (this.pool?.key !== key) {
      // At most 32 requests in flight per cluster (the rest queue, inside their own timeouts);
      // 8 idle connections kept for the next ones.
      this.pool = { key, agent: new HttpsAgent({ ...o, keepAlive: true, maxSockets: 32, maxFreeSockets: 8 }) };
    }
    ctx.setAgent(this.pool.agent);
  }

  /** An API client of `Type` for the kubeconfig's current cluster, on the pooled agent. */
  client<T>(Type: new (config: k8s.Configuration) => T): T {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeError('kubeconfig has no current cluster', 0);
    return new Type(k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: this } }));
  }
}

type CallOptions = k8s.ConfigurationOptions;

/** Request options that abort the request on `signal`, on top of `base` (e.g. METADATA_ONLY). */
function withSignal(signal: AbortSignal, base?: CallOptions): CallOptions {
  const abortable = {
    pre: (ctx: k8s.RequestContext) => {
      ctx.setSignal(signal);
      return new k8s.Observable(Promise.resolve(ctx));
    },
    post: (ctx: k8s.ResponseContext) => new k8s.Observable(Promise.resolve(ctx)),
  };
  return { ...base, middleware: [...(base?.middleware ?? []), abortable], middlewareMergeStrategy: 'append' };
}

/**
 * One request to the API server, aborted after KUBE_REQUEST_TIMEOUT_MS or when the activity
 * attempt making it ends: a frozen API server costs an attempt seconds, not its whole timeout.
 */
async function call<T>(what: string, fn: (options: CallOptions, signal: AbortSignal) => Promise<T>, base?: CallOptions): Promise<T> {
  const signal = requestSignal(KUBE_REQUEST_TIMEOUT_MS);
  try {
    return await fn(withSignal(signal, base), signal);
  } catch (err) {
    throw err instanceof KubeError ? err : translate(err, what, signal);
  }
}

// Ask for metadata only: the API server then sends no `data`, so listing Helm's records costs a
// few hundred bytes each instead of the whole gzip'd release.
const METADATA_ONLY = k8s.setHeaderOptions(
  'Accept',
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
);

type K8sRecord = k8s.V1Secret | k8s.V1ConfigMap;

function toStored(kind: RecordKind, o: K8sRecord, fallbackNamespace?: string): StoredObject {
  const m = o.metadata ?? {};
  const out: StoredObject = {
    kind,
    name: m.name ?? '',
    namespace: m.namespace ?? fallbackNamespace ?? '',
    uid: m.uid ?? '',
    resourceVersion: m.resourceVersion ?? '',
    labels: { ...(m.labels ?? {}) },
  };
  if (m.annotations) out.annotations = { ...m.annotations };
  if (kind === 'Secret' && (o as k8s.V1Secret).type !== undefined) out.type = (o as k8s.V1Secret).type;
  if (o.data) out.data = { ...o.data };
  return out;
}

/** A new object to create: name, labels, annotations, data (and Secret type). */
export interface NewRecord {
  kind: RecordKind;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  type?: string;
  data: Record<string, string>;
}

function body(r: NewRecord, resourceVersion?: string): K8sRecord {
  const metadata: k8s.V1ObjectMeta = { name: r.name, namespace: r.namespace, labels: r.labels };
  if (r.annotations) metadata.annotations = r.annotations;
  if (resourceVersion) metadata.resourceVersion = resourceVersion;
  return r.kind === 'Secret'
    ? { apiVersion: 'v1', kind: 'Secret', metadata, type: r.type, data: r.data }
    : { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: r.data };
}

export interface ListOptions {
  /** Only metadata (no data): the cheap way to find records. */
  metadataOnly?: boolean;
  pageSize?: number;
}

/**
 * What activities may ask of one cluster: every method of Kube. Activities get it from a KubeFor
 * (clusters.ts), never by building a Kube themselves, so a test can hand them a wrapped real
 * Kube that fails or races on demand (test/stack/failing-kube.ts), as helm-controller's
 * storage.Failing wraps a real Helm driver.
 */
export type KubeApi = { [M in keyof Kube as Kube[M] extends (...args: never[]) => unknown ? M : never]: Kube[M] };

/**
 * Any kind, read as the API server sends it (plain JSON, every field kept): client-node's
 * KubernetesObjectApi finds the resource by discovery, but would turn known kinds into its typed
 * models, dropping fields its version does not know.
 */
class AnyObjectApi extends k8s.KubernetesObjectApi {
  async readJson(spec: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }, signal: AbortSignal): Promise<Record<string, unknown>> {
    const path = await this.specUriPath({ ...spec, metadata: { ...spec.metadata } }, 'read');
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    // Like every other request: ends at its timeout or with the activity attempt making it.
    ctx.setSignal(signal);
    // 'any' is a primitive to client-node's serializer: the JSON comes back as it was sent.
    return (await this.requestPromise(ctx, 'any')) as unknown as Record<string, unknown>;
  }
}

/** A revision's manifest (several YAML documents) as objects; empty documents are skipped. */
export function parseManifest(manifest: string): Record<string, unknown>[] {
  return (k8s.loadAllYaml(manifest) as unknown[]).filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d));
}

export class Kube {
  private readonly core: k8s.CoreV1Api;
  private anyObjects: AnyObjectApi | undefined;
  private readonly apps: k8s.AppsV1Api;
  private readonly autoscaling: k8s.AutoscalingV2Api;

  private readonly auth: PooledAuth;

  constructor(readonly kc: k8s.KubeConfig) {
    this.auth = new PooledAuth(kc);
    this.core = this.auth.client(k8s.CoreV1Api);
    this.apps = this.auth.client(k8s.AppsV1Api);
    this.autoscaling = this.auth.client(k8s.AutoscalingV2Api);
  }

  /** From a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and a context in it. */
  static fromKubeconfig(opts: { file?: string; context?: string } = {}): Kube {
    const kc = new k8s.KubeConfig();
    try {
      if (opts.file) kc.loadFromFile(opts.file);
      else kc.loadFromDefault();
    } catch (err) {
      throw new KubeError(`cannot read kubeconfig ${opts.file ?? '(default)'}: ${(err as Error).message}`, 0);
    }
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) {
        const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
        throw new KubeError(`kubeconfig has no context "${opts.context}" (known: ${known})`, 0);
      }
      kc.setCurrentContext(opts.context);
    }
    if (!kc.getCurrentCluster()) throw new KubeError('kubeconfig has no current cluster', 0);
    return new Kube(kc);
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
  }

  /** Helm records (Secrets or ConfigMaps) matching a label selector, in one namespace or all. */
  async listRecords(
    kind: RecordKind,
    namespace: string | undefined,
    labelSelector: string,
    opts: ListOptions = {},
  ): Promise<StoredObject[]> {
    const options = opts.metadataOnly ? METADATA_ONLY : undefined;
    const out: StoredObject[] = [];
    let cont: string | undefined;
    const where = namespace ? `namespace ${namespace}` : 'all namespaces';
    do {
      const page = { labelSelector, limit: opts.pageSize ?? 500, _continue: cont };
      const list: { items: K8sRecord[]; metadata?: k8s.V1ListMeta } = await call(
        `list ${kind}s (${labelSelector}) in ${where}`,
        (o) =>
          kind === 'Secret'
            ? namespace
              ? this.core.listNamespacedSecret({ ...page, namespace }, o)
              : this.core.listSecretForAllNamespaces(page, o)
            : namespace
              ? this.core.listNamespacedConfigMap({ ...page, namespace }, o)
              : this.core.listConfigMapForAllNamespaces(page, o),
        options,
      );
      // An empty PartialObjectMetadataList has `items: null`.
      for (const item of list.items ?? []) out.push(toStored(kind, item, namespace));
      cont = list.metadata?._continue || undefined;
    } while (cont);
    return out;
  }

  /** One object, or undefined if it does not exist. */
  async getRecord(kind: RecordKind, namespace: string, name: string): Promise<StoredObject | undefined> {
    try {
      const got = await call(`read ${kind} ${namespace}/${name}`, (o) =>
        kind === 'Secret'
          ? this.core.readNamespacedSecret({ name, namespace }, o)
          : this.core.readNamespacedConfigMap({ name, namespace }, o),
      );
      return toStored(kind, got, namespace);
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
  }

  async createRecord(r: NewRecord): Promise<StoredObject> {
    const made = await call(`create ${r.kind} ${r.namespace}/${r.name}`, (o) =>
      r.kind === 'Secret'
        ? this.core.createNamespacedSecret({ namespace: r.namespace, body: body(r) as k8s.V1Secret }, o)
        : this.core.createNamespacedConfigMap({ namespace: r.namespace, body: body(r) as k8s.V1ConfigMap }, o),
    );
    return toStored(r.kind, made, r.namespace);
  }

  /** Replace an object only if it is still at `resourceVersion` (409 otherwise). */
  async replaceRecord(r: NewRecord, resourceVersion: string): Promise<StoredObject> {
    const replaced = await call(`replace ${r.kind} ${r.namespace}/${r.name}`, (o) =>
      r.kind === 'Secret'
        ? this.core.replaceNamespacedSecret({ name: r.name, namespace: r.namespace, body: body(r, resourceVersion) as k8s.V1Secret }, o)
        : this.core.replaceNamespacedConfigMap({ name: r.name, namespace: r.namespace, body: body(r, resourceVersion) as k8s.V1ConfigMap }, o),
    );
    return toStored(r.kind, replaced, r.namespace);
  }

  /** Delete an object only if it still has this uid and resourceVersion (409 otherwise). */
  async deleteRecord(
    kind: RecordKind,
    namespace: string,
    name: string,
    preconditions: { uid: string; resourceVersion: string },
  ): Promise<void> {
    const req = { name, namespace, body: { preconditions } };
    await call(`delete ${kind} ${namespace}/${name}`, (o) =>
      kind === 'Secret' ? this.core.deleteNamespacedSecret(req, o) : this.core.deleteNamespacedConfigMap(req, o),
    );
  }

  /**
   * Whether an admission policy refuses what helm-unstuck must never write: a server-side dry run
   * (nothing is stored, whatever the answer) of a forged `deployed` release record in `namespace`.
   * Admitted, also as a name that exists already (admission ran before storage said so), means no
   * policy narrows this identity; refused by a ValidatingAdmissionPolicy means one does. RBAC's
   * refusal, or a namespace that does not exist, says nothing about the policy.
   */
  async probeAdmissionPolicy(namespace: string): Promise<AdmissionProbe> {
    const body: k8s.V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `sh.helm.release.v1.${ADMISSION_PROBE_RELEASE}.v1`, namespace, labels: { owner: 'helm', name: ADMISSION_PROBE_RELEASE, status: 'deployed', version: '1' } },
      type: 'helm.sh/release.v1',
      data: { release: Buffer.from('helm-unstuck admission probe (dry run, never stored)').toString('base64') },
    };
    try {
      await call(`dry-run create of a forged release record in ${namespace}`, (o) => this.core.createNamespacedSecret({ namespace, body, dryRun: 'All' }, o));
      return { answer: 'admitted', namespace };
    } catch (err) {
      if (err instanceof KubeAlreadyExistsError) return { answer: 'admitted', namespace };
      if (err instanceof KubeUnavailableError || !(err instanceof KubeError)) throw err;
      const policy = /ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request/.exec(err.message)?.[1];
      if (policy && (err.status === 403 || err.status === 422)) return { answer: 'refused-by-policy', namespace, policy, message: err.message.slice(0, 500) };
      const why = err instanceof KubeNotFoundError ? `namespace ${namespace} was not found` : err instanceof KubeForbiddenError ? `the probe itself was refused in namespace ${namespace}, not by an admission policy` : `the probe in namespace ${namespace} got HTTP ${err.status}`;
      return { answer: 'inconclusive', namespace, why: `${why}: ${err.message.slice(0, 300)}` };
    }
  }

  /**
   * Any object by apiVersion, kind, namespace and name, as plain JSON; undefined if it does not
   * exist. A kind the API server does not serve is a KubeNotServedError.
   */
  async readObject(o: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<Record<string, unknown> | undefined> {
    this.anyObjects ??= this.auth.client(AnyObjectApi);
    const api = this.anyObjects;
    const what = `read ${o.kind} ${o.namespace}/${o.name}`;
    try {
      return await call(what, async (_options, signal) => {
        try {
          return await api.readJson({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, namespace: o.namespace } }, signal);
        } catch (err) {
          // Discovery's own words when the kind is not served (a CRD not installed).
          if (err instanceof Error && !(err instanceof k8s.ApiException) && err.message.startsWith('Unrecognized API version and kind')) {
            throw new KubeNotServedError(`${what}: ${err.message}`, 404);
          }
          throw err;
        }
      });
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
  }

  async listDeployments(namespace: string): Promise<DeploymentFacts[]> {
    const list = await call(`list Deployments in ${namespace}`, (o) => this.apps.listNamespacedDeployment({ namespace }, o));
    return list.items.map((d) => {
      const f: DeploymentFacts = {
        name: d.metadata?.name ?? '',
        generation: d.metadata?.generation ?? 0,
        replicas: d.spec?.replicas ?? 1,
        conditions: (d.status?.conditions ?? []).map((c) => ({
          type: c.type,
          status: c.status,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.message ? { message: c.message } : {}),
        })),
      };
      const s = d.status;
      if (s?.observedGeneration !== undefined) f.observedGeneration = s.observedGeneration;
      if (s?.updatedReplicas !== undefined) f.updatedReplicas = s.updatedReplicas;
      if (s?.availableReplicas !== undefined) f.availableReplicas = s.availableReplicas;
      return f;
    });
  }

  async listHpas(namespace: string): Promise<HpaFacts[]> {
    const list = await call(`list HorizontalPodAutoscalers in ${namespace}`, (o) =>
      this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }, o),
    );
    return list.items.map((h) => ({
      name: h.metadata?.name ?? '',
      targetKind: h.spec?.scaleTargetRef.kind ?? '',
      targetName: h.spec?.scaleTargetRef.name ?? '',
    }));
  }
}

// ---------------------------------------------------------------------------------------------
// Watching Helm's pending records (the detector, detector/detector.ts). Metadata only, by label
// selector, across all namespaces: what it costs grows with the number of pending records, not
// with the number of releases.

/** Helm's records that hold a release's lock. */
export { PENDING_RECORDS_SELECTOR } from '../decisions/helm';

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

/** 410 Gone: the resourceVersion the watch resumed from is no longer kept; list again. */
export class KubeExpiredError extends KubeError {
  override name = 'KubeExpiredError';
}

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

const recordsPath = (kind: RecordKind) => (kind === 'Secret' ? '/api/v1/secrets' : '/api/v1/configmaps');

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

  /** Every record matching `labelSelector` in all namespaces, and the resourceVersion to watch from. */
  async list(kind: RecordKind, labelSelector: string): Promise<{ records: RecordMeta[]; resourceVersion: string }> {
    const core = new PooledAuth(this.kc).client(k8s.CoreV1Api);
    const records: RecordMeta[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = { labelSelector, limit: 500, _continue: cont };
      const list: { items: K8sRecord[]; metadata?: k8s.V1ListMeta } = await call(
        `list ${kind}s (${labelSelector})`,
        (o) => (kind === 'Secret' ? core.listSecretForAllNamespaces(page, o) : core.listConfigMapForAllNamespaces(page, o)),
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
  ): Promise<RunningWatch> {
    let open = true;
    let resolve: (e: WatchEnd) => void = () => {};
    const ended = new Promise<WatchEnd>((r) => (resolve = r));
    const settle = (e: WatchEnd) => {
      open = false;
      resolve(e);
    };
    let expired: KubeExpiredError | undefined;
    const what = `watch ${kind}s (${labelSelector})`;
    const params = { labelSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    const watching = this.watch.watch(
      recordsPath(kind),
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

/** The context names of a kubeconfig (default: $KUBECONFIG, then ~/.kube/config), in its order. */
export function kubeconfigContexts(file?: string): string[] {
  const kc = new k8s.KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new KubeError(`cannot read kubeconfig ${file ?? '(default)'}: ${(err as Error).message}`, 0);
  }
  return kc.getContexts().map((c) => c.name);
}
