// The operator's policy as the workflow receives it: loadPolicy over a configuration, its digest
// and its words.
import { createPolicyActivities, type OperatorConfig } from '../../activities/policy';
import { InvalidInputError } from '../../activities/failures';
import { canonicalJson, describePolicy, operatorPolicy } from '../../decisions/policy';
import { resolvePolicy } from '../../decisions/schemas';

const KEY = 'A'.repeat(43);
const operator = (): OperatorConfig => ({
  clusters: Object.assign(Object.create(null) as OperatorConfig['clusters'], {
    gprd: { gitlab: [{ project: 'ops/gitlab-com', environment: 'gprd' }], policy: { approvals: 2, approvers: ['alice', 'bob', 'group:sre'] }, namespaces: ['gitlab', 'monitoring'] },
    gstg: { gitlab: [{ project: 7, environment: 'gstg' }], policy: { autoApprove: { configuredBy: 'sre-lead', reason: 'staging' } } },
  }),
  policy: { approvers: ['alice'], escalateAfter: '30m' },
  decisionKeys: [KEY],
});
const { loadPolicy } = createPolicyActivities(operator());

describe('loadPolicy', () => {
  test("a cluster's overrides over the defaults, with the keys and the cluster's projects", async () => {
    const p = await loadPolicy({ cluster: 'gprd' });
    expect(p.policy).toMatchObject({ approvers: ['alice', 'bob', 'group:sre'], approvals: 2, allowUnverifiedDecisions: false, escalateAfterMs: 30 * 60_000, decisionKeys: [KEY] });
    expect(p.policy.autoApprove).toBeUndefined();
    expect(p.gitlab).toEqual([{ project: 'ops/gitlab-com', environment: 'gprd' }]);
    expect(p.digest).toMatch(/^[0-9a-f]{12}$/);
    expect((await loadPolicy({ cluster: 'gstg' })).policy).toMatchObject({ approvers: ['alice'], approvals: 1, autoApprove: { configuredBy: 'sre-lead' } });
  });

  test.each(['nowhere', 'constructor', '__proto__', 'toString', ''])('cluster %j is not configured: bad input, nothing else', async (cluster) => {
    await expect(loadPolicy({ cluster })).rejects.toThrow(InvalidInputError);
    await expect(loadPolicy({ cluster })).rejects.toThrow(`cluster ${JSON.stringify(cluster)} is not configured`);
  });

  test("a namespace the cluster does not allow is bad input naming both; an allowed one, or any where no list is set, is not", async () => {
    for (const namespace of ['kube-system', 'GitLab', 'constructor']) {
      await expect(loadPolicy({ cluster: 'gprd', namespace })).rejects.toThrow(InvalidInputError);
      await expect(loadPolicy({ cluster: 'gprd', namespace })).rejects.toThrow(`namespace ${JSON.stringify(namespace)} is not among the namespaces allowed in cluster "gprd" (clusters.gprd.namespaces)`);
    }
    expect((await loadPolicy({ cluster: 'gprd', namespace: 'monitoring' })).policy.approvals).toBe(2);
    expect((await loadPolicy({ cluster: 'gstg', namespace: 'kube-system' })).policy.approvals).toBe(1);
  });

  test('a worker without a configuration refuses every cluster', async () => {
    await expect(createPolicyActivities(undefined).loadPolicy({ cluster: 'gprd' })).rejects.toThrow(/has no configuration/);
  });
});

describe('the digest', () => {
  const p = resolvePolicy({ approvers: ['alice'] });
  const gitlab = [{ project: 1, environment: 'gprd' }];
  test('is the same for the same policy, whatever the order of keys', () => {
    const reordered = Object.fromEntries(Object.entries(p).reverse()) as typeof p;
    expect(operatorPolicy(reordered, gitlab).digest).toBe(operatorPolicy(p, gitlab).digest);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });
  test.each([
    ['another approver', { ...p, approvers: ['alice', 'bob'] }, gitlab],
    ['two approvals', { ...p, approvals: 2 }, gitlab],
    ['unverified decisions allowed', { ...p, allowUnverifiedDecisions: true }, gitlab],
    ['a decision key', { ...p, decisionKeys: [KEY] }, gitlab],
    ['another project', p, [{ project: 2, environment: 'gprd' }]],
  ])('changes with %s', (_, policy, watches) => {
    expect(operatorPolicy(policy, watches).digest).not.toBe(operatorPolicy(p, gitlab).digest);
  });
});

test('the words: one evidence line', () => {
  const o = operatorPolicy(resolvePolicy({ approvers: ['alice', 'group:sre'], approvals: 2, autoApprove: { configuredBy: 'sre-lead', reason: 'staging' } }, {}, [KEY]), [{ project: 1, environment: 'gprd' }]);
  expect(describePolicy(o)).toBe(
    `the operator's policy (digest ${o.digest}): approvers alice, group:sre; 2 approvals by distinct people; unverified decisions refused; 1 decision key; AUTO-APPROVE configured by sre-lead (staging); strategy delete; minimum pending age 5m; escalate after 15m; watching 1 (gprd)`,
  );
});
