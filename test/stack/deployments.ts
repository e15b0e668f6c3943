// No controllers run on the test API server, so nothing ever writes a Deployment's status.
// Tests write it themselves through /status, as the deployment controller would.
import * as k8s from '@kubernetes/client-node';
import { sharedStack } from './shared';

const clients = new Map<string, k8s.AppsV1Api>();
/** The apps API of a kubeconfig (default: the test run's shared control plane). */
function api(kubeconfig = sharedStack().kubeconfig): k8s.AppsV1Api {
  let c = clients.get(kubeconfig);
  if (!c) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    c = kc.makeApiClient(k8s.AppsV1Api);
    clients.set(kubeconfig, c);
  }
  return c;
}

/** A settled rollout: every replica updated; `available` of them available. */
export function settled(replicas: number, available = replicas): k8s.V1DeploymentStatus {
  return {
    replicas,
    updatedReplicas: replicas,
    availableReplicas: available,
    readyReplicas: available,
    conditions: [
      { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
      { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
    ],
  };
}

/** Write a Deployment's status as observed at its current generation. */
export async function writeStatus(namespace: string, name: string, status: k8s.V1DeploymentStatus, kubeconfig?: string): Promise<void> {
  const d = await api(kubeconfig).readNamespacedDeployment({ namespace, name });
  await api(kubeconfig).replaceNamespacedDeploymentStatus({
    namespace,
    name,
    body: { ...d, status: { observedGeneration: d.metadata?.generation, ...status } },
  });
}

/** Every Deployment in the namespace settled and healthy. */
export async function markHealthy(namespace: string, kubeconfig?: string): Promise<void> {
  const list = await api(kubeconfig).listNamespacedDeployment({ namespace });
  for (const d of list.items) {
    const n = d.spec?.replicas ?? 1;
    await writeStatus(namespace, d.metadata!.name!, settled(n), kubeconfig);
  }
}
