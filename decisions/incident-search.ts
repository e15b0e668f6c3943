// How incidents are found: the search attributes the workflow sets as it goes (one home for their
// names and types: the workflow, the CLI, serve and `temporal setup` import them), and the
// visibility query that finds incidents by them. Pure: the workflow bundle imports it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { REMEDIATION_WORKFLOW_TYPE } from './mandate';
import { OUTCOMES, STEPS, type Outcome } from './vocabulary';

export const SEARCH_ATTRIBUTES = {
  cluster: defineSearchAttributeKey('HelmUnstuckCluster', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('HelmUnstuckNamespace', SearchAttributeType.KEYWORD),
  release: defineSearchAttributeKey('HelmUnstuckRelease', SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey('HelmUnstuckStep', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('HelmUnstuckOutcome', SearchAttributeType.KEYWORD),
  awaitingHuman: defineSearchAttributeKey('HelmUnstuckAwaitingHuman', SearchAttributeType.BOOL),
} as const;

/** Every key, for registering them on a server (`--search-attribute Name=Type`, addSearchAttributes). */
export const SEARCH_ATTRIBUTE_KEYS = Object.values(SEARCH_ATTRIBUTES);

/** Which incidents: every field set narrows the list; none set, every incident. */
export interface IncidentFilter {
  cluster?: string;
  namespace?: string;
  release?: string;
  outcome?: Outcome;
  /** Only incidents a human is awaited by (true), or only the others (false). */
  waiting?: boolean;
  /** Only running incidents (true), or only ended ones (false). */
  running?: boolean;
  /** Only incidents started at or after this time (ISO 8601). */
  startedSince?: string;
  /** Leave out this run (the incident asking about its own release's earlier ones). */
  exceptRun?: string;
  /** Only the runs of this workflow id (one release's incidents, the release page). */
  workflowId?: string;
}

/**
 * A string literal of Temporal's visibility query language. Values are the operator's and the
 * alert's (a release name may be anything a label holds): backslashes and quotes are escaped,
 * so a value is always one literal and never more query.
 */
export function queryLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/"/g, '\\"')}'`;
}

/** The visibility query for `f`: the same in `helm-unstuck list`, the approval page and the repeat check. */
export function incidentsQuery(f: IncidentFilter = {}): string {
  const k = SEARCH_ATTRIBUTES;
  const where = [`WorkflowType = ${queryLiteral(REMEDIATION_WORKFLOW_TYPE)}`];
  const eq = (name: string, v: string | undefined) => v !== undefined && where.push(`${name} = ${queryLiteral(v)}`);
  eq(k.cluster.name, f.cluster);
  eq(k.namespace.name, f.namespace);
  eq(k.release.name, f.release);
  eq(k.outcome.name, f.outcome);
  if (f.waiting !== undefined) where.push(`${k.awaitingHuman.name} = ${f.waiting}`);
  if (f.running !== undefined) where.push(`ExecutionStatus ${f.running ? '=' : '!='} 'Running'`);
  if (f.startedSince !== undefined) where.push(`StartTime >= ${queryLiteral(f.startedSince)}`);
  if (f.exceptRun !== undefined) where.push(`RunId != ${queryLiteral(f.exceptRun)}`);
  eq('WorkflowId', f.workflowId);
  return where.join(' AND ');
}

/** An outcome name as an operator types it, or undefined. */
export const outcomeNamed = (s: string): Outcome | undefined => OUTCOMES.find((o) => o === s);

/** The step an incident reports, read back from its search attribute. */
export const stepNamed = (s: string | undefined) => STEPS.find((x) => x === s);
