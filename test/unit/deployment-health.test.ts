import {
  judgeDeployment,
  judgeNamespace,
  type DeploymentFacts,
  type HpaFacts,
} from '../../decisions/deployment-health';

const ok = [
  { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
  { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
];
function dep(over: Partial<DeploymentFacts> = {}): DeploymentFacts {
  return {
    name: 'gitlab-webservice',
    generation: 7,
    observedGeneration: 7,
    replicas: 10,
    updatedReplicas: 10,
    availableReplicas: 10,
    conditions: ok,
    ...over,
  };
}
const hpa: HpaFacts = { name: 'gitlab-webservice', targetKind: 'Deployment', targetName: 'gitlab-webservice' };

const table: { name: string; d: DeploymentFacts; hpa?: HpaFacts; tolerance?: number; healthy: boolean; says: RegExp }[] = [
  { name: 'settled', d: dep(), healthy: true, says: /healthy \(10 updated, 10 available of 10\)/ },
  { name: 'scaled to zero', d: dep({ replicas: 0, updatedReplicas: undefined, availableReplicas: undefined }), healthy: true, says: /healthy/ },
  {
    name: 'Available False',
    d: dep({ conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, ok[1]!] }),
    healthy: false,
    says: /Available is False \(MinimumReplicasUnavailable: Deployment does not have minimum availability\.\)/,
  },
  {
    name: 'Progressing False (deadline exceeded)',
    d: dep({ conditions: [ok[0]!, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }),
    healthy: false,
    says: /Progressing is False \(ProgressDeadlineExceeded\)/,
  },
  { name: 'no conditions at all (never reconciled)', d: dep({ conditions: [] }), healthy: false, says: /condition Available is missing; condition Progressing is missing/ },
  { name: 'Progressing Unknown', d: dep({ conditions: [ok[0]!, { type: 'Progressing', status: 'Unknown' }] }), healthy: false, says: /Progressing is Unknown/ },
  { name: 'one updated replica not available, no HPA', d: dep({ availableReplicas: 9 }), healthy: false, says: /9 of 10 updated replicas available/ },
  { name: 'one short under an HPA: within 10%', d: dep({ availableReplicas: 9 }), hpa, healthy: true, says: /within HPA gitlab-webservice's tolerance/ },
  { name: 'two short under an HPA: beyond 10% of 10', d: dep({ availableReplicas: 8 }), hpa, healthy: false, says: /a gap of 2, more than the 10% of 10 replicas allowed under HPA gitlab-webservice/ },
  { name: 'two short under an HPA with a 20% tolerance', d: dep({ availableReplicas: 8 }), hpa, tolerance: 0.2, healthy: true, says: /healthy/ },
  { name: 'more available than updated (old pods linger) without HPA', d: dep({ updatedReplicas: 8 }), healthy: false, says: /10 of 8 updated replicas available/ },
  { name: 'new generation not yet observed', d: dep({ generation: 8 }), healthy: false, says: /generation 8 not yet observed by the controller \(observed: 7\)/ },
  { name: 'never observed', d: dep({ observedGeneration: undefined }), healthy: false, says: /observed: none/ },
];

describe('judgeDeployment', () => {
  test.each(table)('$name', ({ d, hpa: h, tolerance, healthy, says }) => {
    const v = judgeDeployment(d, h, tolerance === undefined ? undefined : { hpaTolerance: tolerance });
    expect(v.healthy).toBe(healthy);
    expect(v.summary).toMatch(says);
    expect(v.problems.length === 0).toBe(healthy);
  });
});

describe('judgeNamespace', () => {
  test('names every unhealthy Deployment and matches HPAs by their scale target', () => {
    const hpas: HpaFacts[] = [hpa, { name: 'other', targetKind: 'StatefulSet', targetName: 'gitlab-sidekiq' }];
    const h = judgeNamespace('gitlab', [dep({ availableReplicas: 9 }), dep({ name: 'gitlab-sidekiq', availableReplicas: 9 }), dep({ name: 'gitlab-pages' })], hpas);
    expect(h.healthy).toBe(false);
    expect(h.summary).toBe('gitlab: 1 of 3 Deployments NOT healthy: gitlab-sidekiq');
    expect(h.deployments.map((d) => [d.name, d.healthy, d.hpa])).toEqual([
      ['gitlab-pages', true, undefined],
      ['gitlab-sidekiq', false, undefined],
      ['gitlab-webservice', true, 'gitlab-webservice'],
    ]);
  });
  test('an empty namespace is healthy and says so', () => {
    expect(judgeNamespace('gitlab', [], [])).toMatchObject({ healthy: true, summary: 'gitlab: no Deployments' });
  });
});
