// Which Kubernetes API a cluster name means: one kubeconfig context per cluster.
import { Kube, type KubeApi } from './kubernetes';
import { InvalidInputError } from './failures';

export interface ClusterConfig {
  /** kubeconfig file; default $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** cluster name → kubeconfig context. A cluster not listed is looked up as a context of that name. */
  contexts?: Record<string, string>;
}

/** The factory activities get their Kubernetes access from; tests may wrap what it returns. */
export type KubeFor = (cluster: string) => KubeApi;

/** A KubeFor that builds one client per cluster, on first use. Unknown clusters are bad input. */
export function clusterRegistry(cfg: ClusterConfig = {}): KubeFor {
  const cache = new Map<string, Kube>();
  return (cluster: string) => {
    const hit = cache.get(cluster);
    if (hit) return hit;
    if (!cluster) throw new InvalidInputError('cluster name is empty');
    const context = cfg.contexts?.[cluster] ?? cluster;
    let kube: Kube;
    try {
      kube = Kube.fromKubeconfig({ file: cfg.kubeconfig, context });
    } catch (err) {
      throw new InvalidInputError(`unknown cluster "${cluster}": ${(err as Error).message}`);
    }
    cache.set(cluster, kube);
    return kube;
  };
}
