// Telling people: escalations while a human decision is awaited, and each incident's outcome.
// Today this writes structured log lines (the worker's log is shipped like any service's); a
// chat or paging integration plugs in here. Its results are in workflow history too.
import { log } from '@temporalio/activity';

export interface Escalation {
  incident: string;
  waitingFor: string;
  waitedMs: number;
  count: number;
  summary: string;
}

export interface OutcomeReport {
  incident: string;
  outcome: string;
  reason: string;
  cancelled?: boolean;
}

export function createNotifyActivities(now: () => number) {
  return {
    async notifyEscalation(e: Escalation): Promise<{ notified: string; at: string }> {
      log.warn('helm-unstuck escalation: a human decision is overdue', { ...e });
      return { notified: 'log', at: new Date(now()).toISOString() };
    },
    async reportOutcome(r: OutcomeReport): Promise<{ reported: string; at: string }> {
      log.info('helm-unstuck incident finished', { ...r });
      return { reported: 'log', at: new Date(now()).toISOString() };
    },
  };
}
