// The CLI's way to decide through `serve` (server/api.ts): serve knows who you are from your user
// token and signs your decision, so the workflow can trust it. Configured by
// HELM_UNSTUCK_SERVER_URL and HELM_UNSTUCK_USER_TOKEN (or _FILE).
import { readFileSync } from 'node:fs';
import type { DecisionAction } from '../decisions/vocabulary';
import type { RemediationStatus } from '../workflows/definitions';
import { CommandError } from './errors';

export interface ServeApi {
  url: string;
  token: string;
}

/** serve's API as the environment names it, or undefined when HELM_UNSTUCK_SERVER_URL is unset. */
export function serveApiFrom(env: NodeJS.ProcessEnv): ServeApi | undefined {
  const url = env.HELM_UNSTUCK_SERVER_URL;
  if (!url) return undefined;
  if (!URL.canParse(url)) throw new CommandError(`HELM_UNSTUCK_SERVER_URL=${JSON.stringify(url)} is not a URL`);
  let token = env.HELM_UNSTUCK_USER_TOKEN;
  const file = env.HELM_UNSTUCK_USER_TOKEN_FILE;
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new CommandError(`HELM_UNSTUCK_USER_TOKEN_FILE=${file}: ${(err as Error).message}`);
    }
  }
  if (!token) throw new CommandError('HELM_UNSTUCK_SERVER_URL is set: your user token is needed too (HELM_UNSTUCK_USER_TOKEN or HELM_UNSTUCK_USER_TOKEN_FILE)');
  return { url: url.replace(/\/+$/, ''), token };
}

/** Each segment of the workflow id escaped, the slashes kept: serve's routes take it whole. */
const incidentPath = (id: string) => `/api/v1/incidents/${id.split('/').map(encodeURIComponent).join('/')}`;

async function call(api: ServeApi, path: string, init: { method: 'GET' | 'POST'; body?: unknown }): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, {
      method: init.method,
      headers: { authorization: `Bearer ${api.token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new CommandError(`cannot reach helm-unstuck serve at ${api.url} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`);
  }
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CommandError(`helm-unstuck serve at ${api.url} answered ${res.status} with something that is not its API's JSON (behind a login proxy? point HELM_UNSTUCK_SERVER_URL at serve itself)`);
  }
  if (res.status === 401) throw new CommandError(`helm-unstuck serve refused your user token (HELM_UNSTUCK_USER_TOKEN): ${String(body.error)}`);
  if (res.status === 429) throw new CommandError(`helm-unstuck serve: ${String(body.error)}`);
  return { status: res.status, body };
}

export async function apiStatus(api: ServeApi, id: string): Promise<RemediationStatus> {
  const r = await call(api, incidentPath(id), { method: 'GET' });
  if (r.status === 404) throw new CommandError(`no incident ${id}`);
  if (r.status !== 200) throw new CommandError(`helm-unstuck serve answered ${r.status}: ${String(r.body.error)}`);
  return r.body as unknown as RemediationStatus;
}

export type ApiDecision =
  | { accepted: true; step: string; by: string; verifiedBy: string }
  | { accepted: false; refused: string; status?: RemediationStatus };

export async function apiDecide(api: ServeApi, id: string, d: { action: DecisionAction; reason: string; plan?: string }): Promise<ApiDecision> {
  const r = await call(api, `${incidentPath(id)}/decisions`, { method: 'POST', body: d });
  if (r.status === 200) return r.body as unknown as ApiDecision;
  if (r.status === 409) return { accepted: false, refused: String(r.body.refused), ...(r.body.status ? { status: r.body.status as RemediationStatus } : {}) };
  if (r.status === 404) throw new CommandError(`no incident ${id}`);
  const problems = Array.isArray(r.body.problems) ? `: ${r.body.problems.join('; ')}` : '';
  throw new CommandError(`helm-unstuck serve answered ${r.status}: ${String(r.body.error)}${problems}`);
}
