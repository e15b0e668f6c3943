// Touching Helm's records directly, as another actor would, to prove we notice.
import * as k8s from '@kubernetes/client-node';
import { sharedStack } from './shared';

/** Change a record's metadata (not its meaning): a new resourceVersion, as any write gives it. */
export async function relabelPending(namespace: string, name: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sharedStack().kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.patchNamespacedSecret(
    { namespace, name, body: { metadata: { annotations: { 'touched-by': 'another-operator' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
