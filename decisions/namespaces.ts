// The namespaces helm-unstuck may act in, per cluster: the operator's `clusters.<name>.namespaces`,
// unset meaning all. One judgement, asked wherever an incident could begin or act (the webhook
// before it starts anything, loadPolicy before anything is read, the unlock before it writes).
// Pure: the workflow bundle can import it.
import { quote } from './validation';

/** What of a cluster's settings the judgement reads (lib/config's ClusterSettings has it). */
export interface NamespaceScope {
  /** The namespaces allowed; unset: every namespace. */
  namespaces?: readonly string[];
}

/** Whether the operator allows helm-unstuck in this namespace of this cluster. Exact names only. */
export function namespaceAllowed(cluster: NamespaceScope, namespace: string): boolean {
  return cluster.namespaces === undefined || cluster.namespaces.includes(namespace);
}

/** Why an incident in this namespace is refused, in one sentence naming the cluster and the namespace. */
export function namespaceRefusal(cluster: string, namespace: string): string {
  return `namespace ${quote(namespace)} is not among the namespaces allowed in cluster ${quote(cluster)} (clusters.${cluster}.namespaces)`;
}

/**
 * Where the detector lists and watches a cluster's records: all namespaces at once when the
 * operator allows every namespace (`undefined`, one cluster-wide list), else each allowed namespace
 * on its own, as a namespaced identity (a Role per namespace) is allowed to. Sorted, once each.
 */
export function watchScopes(cluster: NamespaceScope): (string | undefined)[] {
  return cluster.namespaces === undefined ? [undefined] : [...new Set(cluster.namespaces)].sort();
}
