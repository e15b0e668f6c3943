// `helm-unstuck list`: incidents found by their search attributes (cluster, namespace, release,
// outcome, whether a human is awaited), one row each, as a table or JSON.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { incidentsQuery, outcomeNamed, SEARCH_ATTRIBUTES as K, type IncidentFilter } from '../decisions/incident-search';
import { OUTCOMES, releaseOfWorkflowId } from '../decisions/vocabulary';
import { connectClient } from '../client/connect';
import { UsageError, type CommandIo } from './errors';
import { columns } from './scan-format';

export interface ListOptions {
  all?: boolean;
  cluster?: string;
  namespace?: string;
  release?: string;
  outcome?: string;
  waiting?: boolean;
  output: string;
}

export interface ListedIncident {
  workflowId: string;
  cluster?: string;
  namespace?: string;
  release?: string;
  step?: string;
  waiting: boolean;
  outcome?: string;
  status: string;
  started: string;
}

/** The most rows one listing prints: a filter narrows it further. */
const MAX_ROWS = 1000;

/** The options as a filter: an outcome asks for ended incidents, so it lists them without --all. */
export function listFilter(o: ListOptions): IncidentFilter {
  const outcome = o.outcome === undefined ? undefined : outcomeNamed(o.outcome);
  if (o.outcome !== undefined && !outcome) throw new UsageError(`--outcome "${o.outcome}" is not an outcome (${OUTCOMES.join(', ')})`);
  return {
    ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    ...(o.release !== undefined ? { release: o.release } : {}),
    ...(outcome ? { outcome } : {}),
    ...(o.waiting ? { waiting: true } : {}),
    ...(o.all || outcome ? {} : { running: true }),
  };
}

/** One row from what visibility holds (an incident from before the search attributes: its id says which release). */
export function listedIncident(w: Pick<WorkflowExecutionInfo, 'workflowId' | 'status' | 'startTime' | 'typedSearchAttributes'>): ListedIncident {
  const a = w.typedSearchAttributes;
  const target = releaseOfWorkflowId(w.workflowId);
  const cluster = a.get(K.cluster) ?? target?.cluster;
  const namespace = a.get(K.namespace) ?? target?.namespace;
  const release = a.get(K.release) ?? target?.release;
  const step = a.get(K.step);
  const outcome = a.get(K.outcome);
  return {
    workflowId: w.workflowId,
    ...(cluster !== undefined ? { cluster } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(release !== undefined ? { release } : {}),
    ...(step !== undefined ? { step } : {}),
    waiting: a.get(K.awaitingHuman) === true,
    ...(outcome !== undefined ? { outcome } : {}),
    status: w.status.name,
    started: w.startTime.toISOString(),
  };
}

export async function findIncidents(client: Client, filter: IncidentFilter): Promise<ListedIncident[]> {
  const rows: ListedIncident[] = [];
  for await (const w of client.workflow.list({ query: incidentsQuery(filter) })) {
    rows.push(listedIncident(w));
    if (rows.length >= MAX_ROWS) break;
  }
  return rows;
}

export function incidentsTable(rows: readonly ListedIncident[]): string {
  const cells = rows.map((r) => [r.cluster ?? '?', r.namespace ?? '?', r.release ?? '?', r.step ?? '-', r.waiting ? 'yes' : 'no', r.outcome ?? (r.status === 'RUNNING' ? '-' : r.status), r.started]);
  return columns([['CLUSTER', 'NAMESPACE', 'RELEASE', 'STEP', 'WAITING', 'OUTCOME', 'STARTED'], ...cells]);
}

export async function listCommand(o: ListOptions, io: CommandIo): Promise<number> {
  const filter = listFilter(o);
  const { client, close } = await connectClient(io.env);
  try {
    const rows = await findIncidents(client, filter);
    if (o.output === 'json') io.out(JSON.stringify(rows, null, 2) + '\n');
    else if (rows.length === 0) io.out(filter.running ? 'No running incidents match.\n' : 'No incidents match.\n');
    else io.out(incidentsTable(rows));
    return 0;
  } finally {
    await close();
  }
}

/** `helm-unstuck temporal setup`: the search attributes, registered in the client's namespace. */
export async function temporalSetupCommand(io: CommandIo): Promise<number> {
  const { registerSearchAttributes } = await import('../client/temporal-setup.js');
  const { client, close } = await connectClient(io.env);
  try {
    const r = await registerSearchAttributes(client.connection.operatorService, client.options.namespace);
    io.out(`namespace ${client.options.namespace}: ${r.added.length ? `registered ${r.added.join(', ')}` : 'nothing to register'}${r.present.length ? `; already registered: ${r.present.join(', ')}` : ''}\n`);
    return 0;
  } finally {
    await close();
  }
}
