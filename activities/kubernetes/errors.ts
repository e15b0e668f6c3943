// The errors the Kubernetes adapter throws: every failure of a request is one of these, so
// callers decide on a type (not found, conflict, forbidden, worth retrying) and never on client-node's.
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

/** 410 Gone: the resourceVersion the watch resumed from is no longer kept; list again. */
export class KubeExpiredError extends KubeError {
  override name = 'KubeExpiredError';
}
