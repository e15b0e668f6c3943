// Which Kubernetes API a cluster name means: one kubeconfig context per configured cluster, and
// nothing for a name that is not configured (a kubeconfig context that merely shares the name is
// not a cluster the operator chose).
import { own } from '../decisions/validation';
import { Kube, type KubeApi } from './kubernetes';
import { InvalidInputError } from './failures';

export interface ClusterConfig {
  /** kubeconfig file; default $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** cluster name → kubeconfig context: the only clusters there are. */
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
    const context = cfg.contexts ? own(cfg.contexts, cluster) : undefined;
    if (context === undefined) throw new InvalidInputError(`cluster ${JSON.stringify(cluster.slice(0, 253))} is not configured`);
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
