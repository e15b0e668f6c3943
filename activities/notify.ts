// Telling people: escalations while a human decision is awaited, and each incident's outcome.
// Today this writes structured log lines (the worker's log is shipped like any service's); a
// chat or paging integration plugs in here. Its results are in workflow history too.
import { log } from '@temporalio/activity';
import type { RecoveryTimes } from '../decisions/recovery-times';

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
  /** Seconds spent in each step, human waits included. */
  stepSeconds?: Record<string, number>;
  /** Stuck to verified, each hold's wait for a human, the incident's length (a sender older than these sends none). */
  times?: RecoveryTimes;
}

/** Where outcomes are counted (the process's /metrics), if anywhere. */
export interface OutcomeSink {
  incident(outcome: string): void;
  step(step: string, seconds: number): void;
  /** The incident's recovery times, with its outcome (the sink keeps label values to their known sets). */
  times?(outcome: string, times: RecoveryTimes): void;
}

export function createNotifyActivities(now: () => number, sink?: OutcomeSink) {
  return {
    async notifyEscalation(e: Escalation): Promise<{ notified: string; at: string }> {
      log.warn('helm-unstuck escalation: a human decision is overdue', { ...e });
      return { notified: 'log', at: new Date(now()).toISOString() };
    },
    async reportOutcome(r: OutcomeReport): Promise<{ reported: string; at: string }> {
      log.info('helm-unstuck incident finished', { ...r });
      sink?.incident(r.outcome);
      for (const [step, seconds] of Object.entries(r.stepSeconds ?? {})) sink?.step(step, seconds);
      if (r.times) sink?.times?.(r.outcome, r.times);
      return { reported: 'log', at: new Date(now()).toISOString() };
    },
  };
}
