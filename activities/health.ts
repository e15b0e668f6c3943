// Runbook step 2 (observe): every Deployment in the namespace, with the HPAs that scale them.
import { judgeNamespace, type HealthPolicy, type NamespaceHealth, DEFAULT_HEALTH_POLICY } from '../decisions/deployment-health';
import { validateNamespace } from '../decisions/helm';
import type { KubeFor } from './clusters';
import { InvalidInputError } from './failures';

export interface HealthInput {
  cluster: string;
  namespace: string;
  /** Allowed updated/available gap under an HPA, as a fraction of spec.replicas (default 0.1). */
  hpaTolerance?: number;
}

export interface HealthResult extends NamespaceHealth {
  cluster: string;
  observedAt: string;
}

export function createHealthActivities(kubeFor: KubeFor, now: () => number) {
  return {
    async checkDeploymentHealth(input: HealthInput): Promise<HealthResult> {
      const problem = (!input.cluster ? 'cluster is empty' : undefined) ?? validateNamespace(input.namespace);
      if (problem) throw new InvalidInputError(problem);
      const tol = input.hpaTolerance ?? DEFAULT_HEALTH_POLICY.hpaTolerance;
      if (!(tol >= 0 && tol <= 1)) throw new InvalidInputError(`hpaTolerance must be between 0 and 1, not ${tol}`);
      const policy: HealthPolicy = { hpaTolerance: tol };
      const kube = kubeFor(input.cluster);
      const [deployments, hpas] = await Promise.all([kube.listDeployments(input.namespace), kube.listHpas(input.namespace)]);
      return {
        cluster: input.cluster,
        observedAt: new Date(now()).toISOString(),
        ...judgeNamespace(input.namespace, deployments, hpas, policy),
      };
    },
  };
}
