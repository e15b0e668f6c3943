// The incident list's rows: which release on which cluster, and whether it waits for a human (on
// which hold, for whom, since when). Open holds come first, the longest waiting at the top: that
// is what an approver opening the list is there for.
import { releaseOfWorkflowId, type Hold } from '../decisions/vocabulary';
import type { RemediationStatus } from '../workflows/definitions';

export interface IncidentRow {
  workflowId: string;
  /** Epoch milliseconds the incident started. */
  started: number;
  target?: { cluster: string; namespace: string; release: string };
  step?: string;
  /** Set while a human is waited for. */
  hold?: { hold: Hold; waitingFor: string; since?: number };
  /** The status could not be read (the query failed or timed out): the row says so. */
  unknown?: boolean;
}

/** One row from the workflow's id, its start and its status (undefined: not readable now). */
export function incidentRow(workflowId: string, started: number, st: RemediationStatus | undefined): IncidentRow {
  const target = releaseOfWorkflowId(workflowId);
  const since = st?.holdSince ? Date.parse(st.holdSince) : NaN;
  return {
    workflowId,
    started,
    ...(target ? { target } : {}),
    ...(st ? { step: st.step } : { unknown: true }),
    ...(st?.hold ? { hold: { hold: st.hold, waitingFor: st.waitingFor ?? '', ...(Number.isFinite(since) ? { since } : {}) } } : {}),
  };
}

/** Open holds first, the longest waiting first; then the others, the oldest first. */
export function orderIncidents(rows: readonly IncidentRow[]): IncidentRow[] {
  const waitingSince = (r: IncidentRow) => r.hold?.since ?? r.started;
  return [...rows].sort((a, b) => Number(!a.hold) - Number(!b.hold) || (a.hold && b.hold ? waitingSince(a) - waitingSince(b) : a.started - b.started) || a.workflowId.localeCompare(b.workflowId));
}
