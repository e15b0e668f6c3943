// Helm's storage vocabulary, as plain data both workflows and activities can use.
// Facts: Helm 3 and 4 share pkg/storage/driver (one record per revision, labelled).

export const RELEASE_STATUSES = [
  'unknown',
  'deployed',
  'uninstalled',
  'superseded',
  'failed',
  'uninstalling',
  'pending-install',
  'pending-upgrade',
  'pending-rollback',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export const PENDING_STATUSES = ['pending-install', 'pending-upgrade', 'pending-rollback'] as const;
export type PendingStatus = (typeof PENDING_STATUSES)[number];

export function isPending(status: string): status is PendingStatus {
  return (PENDING_STATUSES as readonly string[]).includes(status);
}

export function isReleaseStatus(status: string): status is ReleaseStatus {
  return (RELEASE_STATUSES as readonly string[]).includes(status);
}

/** Where Helm keeps its records: HELM_DRIVER=secret (the default) or configmap. */
export type StorageDriver = 'secret' | 'configmap';

/** `sh.helm.release.v1.<release>.v<revision>`: the object holding one revision. */
export function recordName(release: string, revision: number): string {
  return `sh.helm.release.v1.${release}.v${revision}`;
}

/** Helm's own limit (pkg/chartutil ValidateReleaseName): a DNS label of at most 53 characters. */
const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export function validateReleaseName(name: string): string | undefined {
  if (!name) return 'release name is empty';
  if (name.length > 53) return `release name "${name}" is longer than 53 characters`;
  if (!RELEASE_NAME.test(name)) return `release name "${name}" is not a valid Helm release name`;
  return undefined;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export function validateNamespace(name: string): string | undefined {
  if (!name) return 'namespace is empty';
  if (name.length > 63 || !NAMESPACE.test(name)) return `namespace "${name}" is not a valid Kubernetes namespace name`;
  return undefined;
}

/**
 * One revision of a release, as evidence: what the labels and the object say, plus the few
 * payload fields that are safe to show. Never the chart, values, manifest or hooks.
 */
export interface RevisionRecord {
  release: string;
  namespace: string;
  revision: number;
  status: ReleaseStatus;
  driver: StorageDriver;
  /** The Secret or ConfigMap name. */
  objectName: string;
  uid: string;
  resourceVersion: string;
  /** Helm's createdAt / modifiedAt labels (Unix seconds), as ISO timestamps. */
  createdAt?: string;
  modifiedAt?: string;
  /** From the decoded payload, when it was read. */
  chart?: { name: string; version: string; appVersion?: string };
  description?: string;
  firstDeployed?: string;
  lastDeployed?: string;
}

/** The backup of a record: unique per original object, since the same revision number can get stuck again after an unlock. */
export function backupName(release: string, revision: number, uid: string): string {
  return `helm-unstuck.backup.${release}.v${revision}.${uid.slice(0, 8)}`;
}
