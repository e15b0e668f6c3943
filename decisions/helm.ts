// Helm's storage vocabulary, as plain data both workflows and activities can use.
// Facts: Helm 3 and 4 share pkg/storage/driver (one record per revision, labelled).
import { judgedString, quote } from './validation';

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

/** Helm's own records with a pending status: the label selector every pending-record list uses. */
export const PENDING_RECORDS_SELECTOR = `owner=helm,status in (${PENDING_STATUSES.join(',')})`;

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

// The names a release is addressed by, each judged in one place: the workflow input, the alert
// mapping, the config and the activities all use these.

/** Helm's own limit (pkg/chartutil ValidateReleaseName): a DNS subdomain of at most 53 characters. */
const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes namespaces are DNS labels (RFC 1123), at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// Lengths are checked before the patterns, so a huge string never reaches a regex.
function releaseNameProblem(name: string): string | undefined {
  if (!name) return 'name is empty';
  if (name.length > 53) return `name ${quote(name)} is longer than 53 characters`;
  if (!RELEASE_NAME.test(name)) return `name ${quote(name)} is not a valid Helm release name`;
  return undefined;
}

function namespaceProblem(name: string): string | undefined {
  if (!name) return 'is empty';
  if (name.length > 63 || !DNS_LABEL.test(name)) return `${quote(name)} is not a valid Kubernetes namespace name`;
  return undefined;
}

/** Our own name for a cluster (an alert label, a config key): it is part of the workflow id. */
function clusterNameProblem(name: string): string | undefined {
  if (!name) return 'is empty';
  if (name.length > 253) return 'is longer than 253 characters';
  if (/[\s/]/.test(name)) return `${quote(name)} must not contain "/" or whitespace`;
  return undefined;
}

export const ReleaseName = judgedString(releaseNameProblem);
export const NamespaceName = judgedString(namespaceProblem);
export const ClusterName = judgedString(clusterNameProblem);

/** Why this is not a release name (`release name … is not …`), or undefined. */
export function validateReleaseName(name: string): string | undefined {
  const p = releaseNameProblem(name);
  return p && `release ${p}`;
}

export function validateNamespace(name: string): string | undefined {
  const p = namespaceProblem(name);
  return p && `namespace ${p}`;
}

export function validateClusterName(name: string): string | undefined {
  const p = clusterNameProblem(name);
  return p && `cluster ${p}`;
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
