// A decision serve sends for a person it verified: signed with serve's Ed25519 key
// (decisions/decision-proof.ts), so the workflow can tell it from a free-text `by` sent straight to
// Temporal. The page and the API both send through here; the workflow's answer (accepted, or why
// not) comes back at once.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { signProof, type DecisionProof } from '../decisions/decision-proof';
import type { Decision, DecisionAction } from '../decisions/remediation';
import { decide } from '../client/remediation';
import type { Identity } from './sso';

/** What a person asks: the action, why, and the plan digest they saw (approval holds). */
export interface DecisionRequest {
  action: DecisionAction;
  reason: string;
  plan?: string;
}

export type DecisionAnswer = { ok: true; step: string } | { ok: false; notFound: true } | { ok: false; notFound?: false; refused: string };

/** The decision with serve's proof of who made it, through which path, when. */
export function signedDecision(
  workflowId: string,
  r: DecisionRequest,
  who: Identity,
  via: DecisionProof['via'],
  key: Uint8Array,
  now: number,
): Decision & { plan?: string; proof: DecisionProof } {
  const d = { action: r.action, by: who.user, reason: r.reason, ...(r.plan ? { plan: r.plan } : {}) };
  const proof = signProof(workflowId, d, { verifiedBy: who.verifiedBy, via, ...(who.verifiedBy === 'sso' ? { groups: who.groups } : {}), at: new Date(now).toISOString() }, key);
  return { ...d, proof };
}

export function decisionSender(client: Client, key: Uint8Array, now: () => number = Date.now) {
  return async (workflowId: string, r: DecisionRequest, who: Identity, via: DecisionProof['via']): Promise<DecisionAnswer> => {
    try {
      const { step } = await decide(client, workflowId, signedDecision(workflowId, r, who, via, key, now()));
      return { ok: true, step };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) return { ok: false, refused: err.cause?.message ?? err.message };
      if (err instanceof WorkflowNotFoundError) return { ok: false, notFound: true };
      throw err;
    }
  };
}

export type DecisionSender = ReturnType<typeof decisionSender>;
