// The client of one cluster: Helm's records, the objects a release made, Deployments and HPAs.
// Everything it returns is plain data; everything it throws is a KubeError (errors.ts).
import * as k8s from '@kubernetes/client-node';
import type { AdmissionProbe } from '../../decisions/admission-policy';
import type { DeploymentFacts, HpaFacts } from '../../decisions/deployment-health';
import type { StoredObject } from '../helm-storage';
import { PooledAuth } from './auth';
import { KubeAlreadyExistsError, KubeError, KubeForbiddenError, KubeNotFoundError, KubeNotServedError, KubeUnavailableError } from './errors';
import { call, METADATA_ONLY, type K8sRecord } from './request';

export type RecordKind = StoredObject['kind'];

/** The release name of the forged record probeAdmissionPolicy offers (never stored: a dry run). */
export const ADMISSION_PROBE_RELEASE = 'helm-unstuck-admission-probe';

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
