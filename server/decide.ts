// A decision serve sends for a person it verified: signed with serve's Ed25519 key
// (decisions/decision-proof.ts), so the workflow can tell it from a free-text `by` sent straight to
// Temporal. The page and the API both send through here; the workflow's answer (accepted, or why
// not) comes back at once.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { signProof, type DecisionProof, type ProofBinding } from '../decisions/decision-proof';
import { principalOf } from '../decisions/principal';
import type { Decision, DecisionAction } from '../decisions/vocabulary';
import { decide, incidentStatus } from '../client/incidents';
import type { Identity } from './sso';

/**
 * What a person asks: the action, why, the plan digest they saw (approval holds), and the hold
 * they answer by its number (the page sends the one it showed; unset, the one open now).
 */
export interface DecisionRequest {
  action: DecisionAction;
  reason: string;
  plan?: string;
  holdSeq?: number;
}

export type DecisionAnswer = { ok: true; step: string } | { ok: false; notFound: true } | { ok: false; notFound?: false; refused: string };

/** The decision with serve's proof of who made it, through which path, when. */
export function signedDecision(
  workflowId: string,
  answers: ProofBinding,
  r: DecisionRequest,
  who: Identity,
  via: DecisionProof['via'],
  key: Uint8Array,
  now: number,
): Decision & { plan?: string; proof: DecisionProof } {
  const d = { action: r.action, by: who.user, reason: r.reason, ...(r.plan ? { plan: r.plan } : {}) };
  const proof = signProof(
    workflowId,
    d,
    {
      ...answers,
      verifiedBy: who.verifiedBy,
      via,
      principal: principalOf(who.verifiedBy, who.user),
      ...(who.subject ? { subject: who.subject } : {}),
      ...(who.verifiedBy === 'sso' ? { groups: who.groups } : {}),
      at: new Date(now).toISOString(),
    },
    key,
  );
  return { ...d, proof };
}

export function decisionSender(client: Client, key: Uint8Array, now: () => number = Date.now) {
  return async (workflowId: string, r: DecisionRequest, who: Identity, via: DecisionProof['via']): Promise<DecisionAnswer> => {
    try {
      // The proof answers the hold open now (or the one the person saw) of the run running now.
      const status = await incidentStatus(client, workflowId);
      if (!status.hold) return { ok: false, refused: 'the workflow is not waiting for a decision' };
      if (!status.run) return { ok: false, refused: 'the incident does not say which run it is (an older worker?): nothing can be signed for it' };
      const answers: ProofBinding = { run: status.run, hold: status.hold, seq: r.holdSeq ?? status.holdSeq ?? 0 };
      const { step } = await decide(client, workflowId, signedDecision(workflowId, answers, r, who, via, key, now()));
      return { ok: true, step };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) return { ok: false, refused: err.cause?.message ?? err.message };
      if (err instanceof WorkflowNotFoundError) return { ok: false, notFound: true };
      throw err;
    }
  };
}

export type DecisionSender = ReturnType<typeof decisionSender>;
