// What a person asks serve to decide, from the API's JSON or the page's form, checked before
// anything is signed or sent: the action, why, and the plan digest they saw, with the name serve
// verified. Too long is refused with the field named, never cut short: what is signed is exactly
// what the person wrote.
import { MAX_BY_CHARS, MAX_REASON_CHARS } from '../decisions/decision-limits';
import { check, z } from '../decisions/validation';
import type { DecisionRequest } from './decide';
import type { Identity } from './sso';

export const DecisionRequestSchema = z.strictObject({
  action: z.enum(['approve', 'reject', 'continue', 'abort']),
  reason: z.string().trim().min(1).max(MAX_REASON_CHARS),
  plan: z
    .string()
    .regex(/^[0-9a-f]{6,64}$/, { error: 'must be the plan digest the status shows (hex)' })
    .optional(),
}) satisfies z.ZodType<DecisionRequest>;

/** The request, or every reason it is not one serve will sign for this person. */
export function checkDecisionRequest(body: unknown, who: Pick<Identity, 'user'>): { data: DecisionRequest } | { problems: string[] } {
  const r = check(DecisionRequestSchema, body, 'the decision');
  const problems = 'problems' in r ? [...r.problems] : [];
  if (who.user.length > MAX_BY_CHARS) problems.push(`by (your name, as serve verified it) is too long (more than ${MAX_BY_CHARS} characters)`);
  return 'data' in r && problems.length === 0 ? { data: r.data } : { problems };
}
