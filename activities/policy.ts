// loadPolicy: the operator's policy for one cluster, from the worker's own validated
// configuration. The workflow asks for it first and records the answer (and its digest) in
// history, so a start cannot bring its own policy, and replay sees the policy the incident had.
import { namespaceAllowed, namespaceRefusal } from '../decisions/namespaces';
import { operatorPolicy } from '../decisions/policy';
import type { OperatorPolicy } from '../decisions/vocabulary';
import { resolvePolicy } from '../decisions/schemas';
import { own } from '../decisions/validation';
import type { Config } from '../lib/config';
import { InvalidInputError } from './failures';

/** What loadPolicy reads of the configuration. */
export type OperatorConfig = Pick<Config, 'clusters' | 'policy' | 'decisionKeys'> & Partial<Pick<Config, 'people'>>;

/** One configured cluster's policy, resolved as the workflow and the acts both read it. */
export const policyOfCluster = (operator: OperatorConfig, cluster: NonNullable<OperatorConfig['clusters'][string]>) =>
  resolvePolicy(operator.policy, cluster.policy, operator.decisionKeys, operator.people);

export function createPolicyActivities(source: OperatorConfig | (() => OperatorConfig) | undefined) {
  return {
    /** The cluster's policy; refused for a cluster not configured, or a namespace it does not allow (before anything is read). */
    async loadPolicy(input: { cluster: string; namespace?: string }): Promise<OperatorPolicy> {
      const operator = typeof source === 'function' ? source() : source;
      if (!operator) throw new InvalidInputError('this worker has no configuration to take a policy from (HELM_UNSTUCK_CONFIG)');
      const cluster = own(operator.clusters, String(input?.cluster));
      if (!cluster) throw new InvalidInputError(`cluster ${JSON.stringify(String(input?.cluster).slice(0, 253))} is not configured`);
      // The namespace is optional: a caller that names none gets the cluster's policy unchecked for it.
      const namespace = input.namespace;
      if (namespace !== undefined && !namespaceAllowed(cluster, String(namespace))) throw new InvalidInputError(namespaceRefusal(String(input.cluster), String(namespace)));
      return operatorPolicy(policyOfCluster(operator, cluster), cluster.gitlab);
    },
  };
}
