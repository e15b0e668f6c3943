// findEarlierIncidents: a release's earlier incidents in a window, from Temporal's visibility
// (the same query as `helm-unstuck list`), through the worker's own client. The one activity that
// reads Temporal; the workflow judges what it finds (decisions/repeat-limit.ts).
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { incidentsQuery, SEARCH_ATTRIBUTES as K } from '../decisions/incident-search';
import type { EarlierIncident } from '../decisions/repeat-limit';
import { InvalidInputError } from './failures';

export interface EarlierIncidentsInput {
  cluster: string;
  namespace: string;
  release: string;
  windowMs: number;
  /** The asking incident's run, left out. */
  run: string;
}

/** At most this many are listed: past it, the limit is exceeded whatever the rest say. */
const MAX_EARLIER = 100;

/** `client`: the Temporal client to ask (tests); by default the worker's, from the activity's context. */
export function createIncidentHistoryActivities(client?: () => Client) {
  return {
    async findEarlierIncidents(input: EarlierIncidentsInput): Promise<EarlierIncident[]> {
      const { cluster, namespace, release, windowMs, run } = input ?? {};
      if (![cluster, namespace, release, run].every((x) => typeof x === 'string') || !Number.isFinite(windowMs) || windowMs < 0) {
        throw new InvalidInputError('findEarlierIncidents needs a cluster, namespace, release, run and a window');
      }
      const temporal = client ? client() : Context.current().client;
      const query = incidentsQuery({ cluster, namespace, release, startedSince: new Date(Date.now() - windowMs).toISOString(), exceptRun: run });
      const found: EarlierIncident[] = [];
      for await (const w of temporal.workflow.list({ query })) {
        const outcome = w.typedSearchAttributes.get(K.outcome);
        found.push({ started: w.startTime.toISOString(), ...(outcome !== undefined ? { outcome } : {}) });
        if (found.length >= MAX_EARLIER) break;
      }
      return found;
    },
  };
}
