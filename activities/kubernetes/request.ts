// One request to the API server: aborted at its timeout or with the activity attempt making it,
// and its failure translated into a KubeError (errors.ts).
import * as k8s from '@kubernetes/client-node';
import { abortedBecause, requestSignal } from '../attempt';
import { KubeAlreadyExistsError, KubeConflictError, KubeError, KubeForbiddenError, KubeNotFoundError, KubeUnavailableError } from './errors';

/** Each request's limit, well inside an activity's start-to-close timeout (2 minutes). */
export const KUBE_REQUEST_TIMEOUT_MS = 15_000;

export function translate(err: unknown, what: string, signal?: AbortSignal): Error {
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

export type CallOptions = k8s.ConfigurationOptions;

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
export async function call<T>(what: string, fn: (options: CallOptions, signal: AbortSignal) => Promise<T>, base?: CallOptions): Promise<T> {
  const signal = requestSignal(KUBE_REQUEST_TIMEOUT_MS);
  try {
    return await fn(withSignal(signal, base), signal);
  } catch (err) {
    throw err instanceof KubeError ? err : translate(err, what, signal);
  }
}

// Ask for metadata only: the API server then sends no `data`, so listing Helm's records costs a
// few hundred bytes each instead of the whole gzip'd release.
export const METADATA_ONLY = k8s.setHeaderOptions(
  'Accept',
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
);

export type K8sRecord = k8s.V1Secret | k8s.V1ConfigMap;
