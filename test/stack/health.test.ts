// Runbook step 2 on the real API server: Deployments and HPAs as the cluster stores them.
// No controllers run here, so tests write each Deployment's status through /status, as the
// deployment controller would.
import * as k8s from '@kubernetes/client-node';
import { CLUSTER, stackActivities, unique } from './fixtures';
import { settled } from './deployments';
import { sharedStack } from './shared';

const kc = new k8s.KubeConfig();
kc.loadFromFile(sharedStack().kubeconfig);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const core = kc.makeApiClient(k8s.CoreV1Api);
const autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
const acts = stackActivities();

async function deployment(namespace: string, name: string, replicas: number, status: k8s.V1DeploymentStatus) {
  const labels = { app: name };
  const created = await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1' }] } },
      },
    },
  });
  await apps.replaceNamespacedDeploymentStatus({
    namespace,
    name,
    body: { ...created, status: { observedGeneration: created.metadata?.generation, ...status } },
  });
}

test('judges every Deployment in the namespace, with the HPA that scales it', async () => {
  const namespace = unique('h');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await deployment(namespace, 'web', 10, settled(10, 9));
  await deployment(namespace, 'sidekiq', 4, settled(4, 3));
  await deployment(namespace, 'pages', 2, {
    ...settled(2),
    conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }, settled(2).conditions![1]!],
  });
  await autoscaling.createNamespacedHorizontalPodAutoscaler({
    namespace,
    body: {
      metadata: { name: 'web' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 5, maxReplicas: 30 },
    },
  });

  const h = await acts.checkDeploymentHealth({ cluster: CLUSTER, namespace });
  expect(h.healthy).toBe(false);
  expect(h.summary).toBe(`${namespace}: 2 of 3 Deployments NOT healthy: pages, sidekiq`);
  expect(h.deployments.map((d) => d.summary)).toEqual([
    'pages: NOT healthy: Available is False (MinimumReplicasUnavailable)',
    'sidekiq: NOT healthy: 3 of 4 updated replicas available',
    "web: healthy (10 updated, 9 available of 10, within HPA web's tolerance)",
  ]);

  // The same gap is too much with a 5% tolerance.
  const strict = await acts.checkDeploymentHealth({ cluster: CLUSTER, namespace, hpaTolerance: 0.05 });
  expect(strict.deployments.find((d) => d.name === 'web')?.healthy).toBe(false);
});

test('a Deployment whose new generation is not yet observed is not healthy', async () => {
  const namespace = unique('h');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await deployment(namespace, 'web', 2, settled(2));
  // A spec change bumps generation; no controller observes it here.
  await apps.patchNamespacedDeployment(
    { namespace, name: 'web', body: { spec: { replicas: 3 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  const h = await acts.checkDeploymentHealth({ cluster: CLUSTER, namespace });
  expect(h.deployments[0]?.summary).toMatch(/web: NOT healthy: generation 2 not yet observed by the controller \(observed: 1\)/);
});

test('bad input is refused before any request', async () => {
  await expect(acts.checkDeploymentHealth({ cluster: CLUSTER, namespace: 'Bad_NS' })).rejects.toMatchObject({
    type: 'InvalidInput',
    nonRetryable: true,
  });
  await expect(acts.checkDeploymentHealth({ cluster: CLUSTER, namespace: 'x', hpaTolerance: 3 })).rejects.toMatchObject({
    message: 'hpaTolerance must be between 0 and 1, not 3',
  });
});
