// The workflow's messages, defined once: the workflow sets their handlers, the client, CLI,
// webhook receiver and approval page send them.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CiJob } from '../activities/gitlab';
import type { VerifyResult } from '../activities/release';
import type { UnlockResult } from '../activities/unlock';
import type { DiffReport } from '../decisions/dry-run-diff';
import type { ClusterChange, LiveVerdict } from '../decisions/live-objects';
import type { Decision, Hold, Outcome, RecordedDecision, Step } from '../decisions/vocabulary';
import type { ApprovedRecord } from '../decisions/runbook';

/** What the workflow returns: how the incident ended, why, and what was done on the way. */
export interface RemediationResult {
  incident: string;
  outcome: Outcome;
  reason: string;
  cluster: string;
  namespace: string;
  release: string;
  /** The decision that settled the approval gate (the last approval, or the rejection). */
  approval?: RecordedDecision;
  /** Every decision accepted at the approval gate, in order (two-person rule: both approvals). */
  approvals?: RecordedDecision[];
  unlock?: UnlockResult;
  verification?: VerifyResult;
  rerun?: { job: CiJob; diff: DiffReport; cluster?: ClusterChange };
  escalations: number;
  evidence: EvidenceEntry[];
}

export interface EvidenceEntry {
  at: string;
  step: Step | 'start';
  kind: 'check' | 'decision' | 'action' | 'wait' | 'signal' | 'escalation' | 'error';
  summary: string;
  ok?: boolean;
}

export interface RemediationStatus {
  incident: string;
  /** The workflow run (a decision's proof answers one run). */
  run?: string;
  step: Step;
  /** What the workflow waits for right now, in words; undefined while it is working. */
  waitingFor?: string;
  /**
   * An activity Temporal is retrying, in words ("waiting for the API server: 4 attempts, next in
   * 30 s"). Filled in by the client from Temporal's description, never by the workflow.
   */
  retrying?: string;
  hold?: Hold;
  /** The open hold's number in the run, counted from 1: a decision's proof answers one hold. */
  holdSeq?: number;
  /** When the open hold opened (ISO time): how long a human has been waited for. */
  holdSince?: string;
  evidence: EvidenceEntry[];
  /** The decision that settled the approval gate (the last approval, or the rejection). */
  approval?: RecordedDecision;
  /** Every decision accepted at the approval gate: who, verified how, through which path, on which plan. */
  approvals?: RecordedDecision[];
  escalations: number;
  outcome?: Outcome;
  reason?: string;
  /** What a human deciding needs to see, kept current as the steps run. */
  view: {
    ci?: { quiet: boolean; summary: string };
    health?: { healthy: boolean; summary: string; deployments: string[] };
    release?: { summary: string; revision?: number; status?: string; pendingSince?: string; lastDeployedRevision?: number };
    /** What approval unlocks; `digest` is what a decision on it must name. */
    plan?: { strategy: string; digest: string; records: (ApprovedRecord & { backupName: string })[] };
    verification?: { verified: boolean; summary: string };
    dryRun?: { jobId: number; verdict: string; reason: string };
    /** What the interrupted upgrade already applied, object by object (kinds, names, verdicts). */
    applied?: { summary: string; objects: { kind: string; namespace: string; name: string; verdict: LiveVerdict }[] };
    /** The release's earlier incidents in the policy's window, and whether they held this one for a human. */
    repeats?: { summary: string; unlocks: number; held: boolean };
    /** What the roll-forward changed on the cluster. */
    clusterChange?: { change: ClusterChange['change']; summary: string };
  };
}

export interface AlertNotice {
  status: 'firing' | 'resolved';
  fingerprint: string;
  startsAt?: string;
  endsAt?: string;
  summary?: string;
}

/** A human's decision (approve/reject, or continue/abort on a hold). Unchecked: prefer the update. */
export const decideSignal = defineSignal<[Decision]>('decide');
/** The same decision, answered: the caller learns at once whether it was accepted. */
export const decideUpdate = defineUpdate<{ accepted: true; step: Step }, [Decision]>('decideUpdate');
/** Alertmanager sent the alert again, or resolved it. */
export const alertSignal = defineSignal<[AlertNotice]>('alert');
export const statusQuery = defineQuery<RemediationStatus>('status');
