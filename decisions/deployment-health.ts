// Runbook step 2, decided: is every Deployment up to date? Exactly the runbook's rule:
//  - conditions Available and Progressing are True;
//  - updatedReplicas and availableReplicas match, or, where an HPA scales the Deployment, are
//    within a tolerance (default 10%) of spec.replicas;
// plus one check the runbook implies: the controller has observed the newest generation,
// otherwise the status above describes an older spec. readyReplicas is not read: a replica is
// available only after being ready for minReadySeconds, so the available count is the stricter one.

/** The facts of one Deployment that the verdict needs (plain data from the adapter). */
export interface DeploymentFacts {
  name: string;
  generation: number;
  observedGeneration?: number;
  /** spec.replicas (Kubernetes defaults it to 1). */
  replicas: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
}

/**
 * A HorizontalPodAutoscaler's target, enough to know which Deployment it scales. Its replica
 * bounds are not read: the HPA writes its choice into the Deployment's spec.replicas, which the
 * tolerance is measured against.
 */
export interface HpaFacts {
  name: string;
  targetKind: string;
  targetName: string;
}

export interface HealthPolicy {
  /** Allowed |updated - available| as a fraction of spec.replicas, for HPA-scaled Deployments. */
  hpaTolerance: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { hpaTolerance: 0.1 };

export interface DeploymentVerdict {
  name: string;
  healthy: boolean;
  /** Every reason it is not healthy; empty when healthy. */
  problems: string[];
  /** One line for the incident channel, healthy or not. */
  summary: string;
  hpa?: string;
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
}

export interface NamespaceHealth {
  namespace: string;
  healthy: boolean;
  summary: string;
  deployments: DeploymentVerdict[];
}

function condition(d: DeploymentFacts, type: string): string | undefined {
  const c = d.conditions.find((x) => x.type === type);
  if (!c) return `condition ${type} is missing`;
  if (c.status === 'True') return undefined;
  const why = [c.reason, c.message].filter(Boolean).join(': ');
  return `${type} is ${c.status}${why ? ` (${why})` : ''}`;
}

export function judgeDeployment(
  d: DeploymentFacts,
  hpa: HpaFacts | undefined,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): DeploymentVerdict {
  const updated = d.updatedReplicas ?? 0;
  const available = d.availableReplicas ?? 0;
  const problems: string[] = [];

  if (d.observedGeneration === undefined || d.observedGeneration < d.generation) {
    problems.push(
      `generation ${d.generation} not yet observed by the controller (observed: ${d.observedGeneration ?? 'none'})`,
    );
  }
  for (const type of ['Available', 'Progressing']) {
    const p = condition(d, type);
    if (p) problems.push(p);
  }
  const gap = Math.abs(updated - available);
  if (gap > 0) {
    if (!hpa) {
      problems.push(`${available} of ${updated} updated replicas available`);
    } else {
      const allowed = policy.hpaTolerance * d.replicas;
      if (gap > allowed) {
        problems.push(
          `${available} of ${updated} updated replicas available: a gap of ${gap}, more than the ` +
            `${Math.round(policy.hpaTolerance * 100)}% of ${d.replicas} replicas allowed under HPA ${hpa.name}`,
        );
      }
    }
  }

  const counts = `${updated} updated, ${available} available of ${d.replicas}`;
  const summary =
    problems.length === 0
      ? `${d.name}: healthy (${counts}${hpa && gap > 0 ? `, within HPA ${hpa.name}'s tolerance` : ''})`
      : `${d.name}: NOT healthy: ${problems.join('; ')}`;
  return {
    name: d.name,
    healthy: problems.length === 0,
    problems,
    summary,
    hpa: hpa?.name,
    replicas: d.replicas,
    updatedReplicas: updated,
    availableReplicas: available,
  };
}

/** The HPA that scales this Deployment, if any. */
export function hpaFor(d: DeploymentFacts, hpas: readonly HpaFacts[]): HpaFacts | undefined {
  return hpas.find((h) => h.targetKind === 'Deployment' && h.targetName === d.name);
}

export function judgeNamespace(
  namespace: string,
  deployments: readonly DeploymentFacts[],
  hpas: readonly HpaFacts[],
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): NamespaceHealth {
  const verdicts = [...deployments]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((d) => judgeDeployment(d, hpaFor(d, hpas), policy));
  const bad = verdicts.filter((v) => !v.healthy);
  const summary =
    verdicts.length === 0
      ? `${namespace}: no Deployments`
      : bad.length === 0
        ? `${namespace}: all ${verdicts.length} Deployments healthy`
        : `${namespace}: ${bad.length} of ${verdicts.length} Deployments NOT healthy: ${bad.map((v) => v.name).join(', ')}`;
  return { namespace, healthy: bad.length === 0, summary, deployments: verdicts };
}

/** The namespace verdict plus each unhealthy Deployment's reasons: what a human needs to decide. */
export function describeHealth(h: NamespaceHealth): string {
  const bad = h.deployments.filter((d) => !d.healthy).map((d) => d.summary);
  return bad.length === 0 ? h.summary : `${h.summary}. ${bad.join('. ')}`;
}
