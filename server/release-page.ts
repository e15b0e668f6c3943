// A release's page, /releases/<cluster>/<namespace>/<release>: the stable link HelmReleaseStuck's
// incident_url carries. The alert fires before its incident starts and outlives it, so the link
// names the release, not a run: it redirects to the running incident (one workflow id per release,
// workflowIdFor), or lists the release's incidents, newest first.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { validateNamespace, validateReleaseName } from '../decisions/helm';
import { namespaceAllowed, namespaceRefusal, type NamespaceScope } from '../decisions/namespaces';
import { workflowIdFor } from '../decisions/vocabulary';
import { quote } from '../decisions/validation';
import { incidentsQuery } from '../decisions/incident-search';

/** One run of a release's workflow id: one incident. */
export interface IncidentRun {
  runId: string;
  /** Temporal's status name: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  status: string;
  startTime: Date;
  closeTime?: Date;
}

/** The runs of one workflow id (Temporal's adapter below; a test's fake). */
export interface IncidentRuns {
  /** The newest run, from Temporal itself (visibility may lag behind a start); undefined when there is none. */
  latest(workflowId: string): Promise<IncidentRun | undefined>;
  /** At most `max` runs, from Temporal's visibility (its list). */
  list(workflowId: string, max: number): Promise<IncidentRun[]>;
}

/** A release's page shows at most this many incidents. */
export const MAX_RUNS = 50;

/** What the route answers: the running incident's page, the release's incidents, or why not. */
export type ReleaseAnswer =
  | { kind: 'running'; workflowId: string }
  | { kind: 'incidents'; workflowId: string; runs: IncidentRun[] }
  | { kind: 'refused'; status: 400 | 404; why: string };

const toRun = (w: { runId: string; status: { name: string }; startTime: Date; closeTime?: Date | undefined }): IncidentRun => ({
  runId: w.runId,
  status: w.status.name,
  startTime: w.startTime,
  ...(w.closeTime ? { closeTime: w.closeTime } : {}),
});

export function temporalRuns(client: Client): IncidentRuns {
  return {
    async latest(workflowId) {
      try {
        return toRun(await client.workflow.getHandle(workflowId).describe());
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    },
    async list(workflowId, max) {
      const runs: IncidentRun[] = [];
      for await (const w of client.workflow.list({ query: incidentsQuery({ workflowId }) })) {
        runs.push(toRun(w));
        if (runs.length >= max) break;
      }
      return runs;
    },
  };
}

/** Why these names are no release helm-unstuck could have an incident for, with the page's status. */
function refusal(clusters: Record<string, NamespaceScope>, cluster: string, namespace: string, release: string): { status: 400 | 404; why: string } | undefined {
  const problem = validateNamespace(namespace) ?? validateReleaseName(release);
  if (problem) return { status: 400, why: `This is no release's page: ${problem}.` };
  const settings = Object.hasOwn(clusters, cluster) ? clusters[cluster] : undefined;
  if (!settings) return { status: 404, why: `No cluster ${quote(cluster)} is configured here.` };
  if (!namespaceAllowed(settings, namespace)) return { status: 404, why: `helm-unstuck never acts here: ${namespaceRefusal(cluster, namespace)}.` };
  return undefined;
}

/**
 * The release's running incident, else its incidents newest first: the newest run as Temporal
 * describes it, with what visibility lists (which may not have it yet).
 */
export async function releaseAnswer(runs: IncidentRuns, clusters: Record<string, NamespaceScope>, cluster: string, namespace: string, release: string): Promise<ReleaseAnswer> {
  const refused = refusal(clusters, cluster, namespace, release);
  if (refused) return { kind: 'refused', ...refused };
  const workflowId = workflowIdFor(cluster, namespace, release);
  const latest = await runs.latest(workflowId);
  if (latest?.status === 'RUNNING') return { kind: 'running', workflowId };
  const listed = await runs.list(workflowId, MAX_RUNS);
  const all = latest && !listed.some((r) => r.runId === latest.runId) ? [latest, ...listed] : listed;
  return { kind: 'incidents', workflowId, runs: all.sort((a, b) => b.startTime.getTime() - a.startTime.getTime()).slice(0, MAX_RUNS) };
}

/** The incident page's path for a workflow id, each segment escaped (a cluster name may hold `?` or `%`). */
export const incidentPath = (workflowId: string): string => `/incidents/${workflowId.split('/').map(encodeURIComponent).join('/')}`;
