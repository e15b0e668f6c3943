// helm-unstuck's configuration: an optional file (HELM_UNSTUCK_CONFIG, YAML or JSON) and
// environment variables; a setting given in both comes from the environment. Secrets come from
// the environment or from *_FILE paths (a mounted Kubernetes Secret), never from the file.
// Validated once at start with the same schemas the workflow uses; every problem is listed, and
// nothing starts until they are fixed.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ADMISSION_REQUIREMENTS, type AdmissionRequirement } from '../decisions/admission-policy';
import { AlertMappingSchema, type AlertMapping } from '../decisions/alerts';
import { decodeKey } from '../decisions/decision-proof';
import { DurationMs } from '../decisions/duration';
import { ClusterName, NamespaceName } from '../decisions/helm';
import type { CiWatch, PolicyConfig } from '../decisions/schemas';
import { checkPolicy, CiWatchesSchema, DecisionKeys, PeopleSchema, PolicySchema } from '../decisions/schemas';
import { check, ownRecordOf, quote, z } from '../decisions/validation';
import { externalUrlProblem } from './external-url';

export interface ClusterSettings {
  /** kubeconfig context for this cluster (default: the cluster's name). */
  context?: string;
  /** GitLab projects whose deploy jobs target this cluster (runbook step 1 and 6). */
  gitlab: CiWatch[];
  /** This cluster's overrides of the default policy, key by key (production: `approvals: 2`). */
  policy?: PolicyConfig;
  /** The only namespaces helm-unstuck may act in (decisions/namespaces.ts); unset: all. */
  namespaces?: string[];
  /**
   * Whether unlocks here need the chart's admission policy in force (default `required`): where a
   * dry-run forged write is not refused, helm-unstuck does not act unless this says `not-required`.
   */
  admissionPolicy?: AdmissionRequirement;
  /** The namespace the start-up and periodic probes of that policy write their dry run to (default `default`). */
  admissionProbeNamespace?: string;
}

export interface Config {
  kubeconfig?: string;
  /** Cluster name → settings; only its own keys are clusters (`constructor` is not one). */
  clusters: Record<string, ClusterSettings>;
  /** The default policy; each cluster's `policy` overrides it key by key. Only the operator's. */
  policy: PolicyConfig;
  /** Base64url Ed25519 public keys whose signatures on decisions the workflow trusts (serve's). */
  decisionKeys: string[];
  /** Person → the principals that are theirs (`token:alice`, `sso:asmith`): one person, one approval. */
  people: Record<string, string[]>;
  alerts: AlertMapping;
  /** Where requests for a human are posted as alerts (Alertmanager's v2 API); unset, none are. */
  alertmanager?: { url: string };
  server: ServerSettings;
  gitlab?: { url: string; token: string };
  taskQueue: string;
  /** Approval page users: name → SHA-256 (hex) of their login token. */
  users: Record<string, string>;
  /** Signs approval page sessions; random per process when unset (sessions end on restart). */
  sessionSecret?: string;
  /** Single sign-on: serve verifies the OpenID Connect ID token oauth2-proxy passes. */
  sso?: SsoSettings;
  /** serve's Ed25519 seed (32 bytes) that signs the decisions it verified. */
  decisionKey?: Uint8Array;
}

export interface ServerSettings {
  listen: string;
  maxBodyBytes: number;
  webhookToken?: string;
  /** Bearer token /metrics requires, when set. */
  metricsToken?: string;
  /** Node's http.Server limits: a slow or idle client cannot hold a connection for ever. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** Connections one client address may hold; past it (or maxConnections) its oldest idle unauthenticated one is closed. */
  maxConnectionsPerClient: number;
  /** A connection that has sent no request with the webhook's or /metrics' token is closed after this long idle. */
  unauthenticatedIdleTimeoutMs: number;
  /** Failed logins (page and API) allowed per window, per client address and overall. */
  loginLimit: { perClient: number; overall: number; windowMs: number };
  /** Session cookies without Secure: only for serve reached over plain HTTP on purpose (a local test). */
  insecureCookies: boolean;
  /** Where people and alerts reach serve (its proxy's URL), without a trailing slash: links to incidents. */
  externalUrl?: string;
}

export interface SsoSettings {
  issuer: string;
  /** The OAuth client id oauth2-proxy uses: the ID token's audience. */
  clientId: string;
  /** The claim naming the person; unset: preferred_username, then email. */
  userClaim?: string;
  groupsClaim: string;
  algorithms: string[];
}

/** Asymmetric signatures only: a shared-secret (HS*) or unsigned token proves nothing here. */
export const SSO_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  }
}

const Listen = z.string().regex(/^[^:]+:\d{1,5}$/, { error: (iss) => `${quote(iss.input)} must be host:port` });
const Url = z.string().refine((u) => URL.canParse(u), { error: (iss) => `${quote(iss.input)} is not a URL` });
const HttpUrl = z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { error: (iss) => `${quote(iss.input)} is not an http(s) URL` });
const ExternalUrl = z.string().check((ctx) => {
  const problem = externalUrlProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: `${quote(ctx.value)} ${problem}`, input: ctx.value });
});
const SETTINGS = ['kubeconfig', 'clusters', 'policy', 'decisionKeys', 'people', 'alerts', 'alertmanager', 'server', 'gitlab', 'taskQueue', 'users', 'sso'] as const;
const ClaimName = z.string().min(1).max(256);
/** A cluster's namespace allowlist: each is scanned on its own after a truncated alert group. */
const MAX_NAMESPACES = 256;

const FileSchema = z
  .strictObject(
    {
      kubeconfig: z.string().min(1).optional(),
      clusters: ownRecordOf(
        ClusterName,
        z.strictObject({
          context: z.string().min(1).max(253).optional(),
          gitlab: CiWatchesSchema,
          policy: PolicySchema.optional(),
          namespaces: z.array(NamespaceName).min(1).max(MAX_NAMESPACES).optional(),
          admissionPolicy: z.enum(ADMISSION_REQUIREMENTS).optional(),
          admissionProbeNamespace: NamespaceName.optional(),
        }),
      ).prefault({}),
      policy: PolicySchema.optional(),
      decisionKeys: DecisionKeys.optional(),
      people: PeopleSchema.prefault({}),
      alerts: AlertMappingSchema.prefault({}),
      alertmanager: z.strictObject({ url: HttpUrl }).optional(),
      server: z
        .strictObject({
          listen: Listen.optional(),
          maxBodyBytes: z.number().int().min(1024).max(1 << 30).optional(),
          headersTimeout: DurationMs.refine((ms) => ms >= 1000 && ms <= 600_000, { error: 'must be between 1s and 10m' }).prefault('10s'),
          requestTimeout: DurationMs.refine((ms) => ms >= 1000 && ms <= 3_600_000, { error: 'must be between 1s and 1h' }).prefault('30s'),
          keepAliveTimeout: DurationMs.refine((ms) => ms >= 0 && ms <= 600_000, { error: 'must be at most 10m' }).prefault('5s'),
          maxConnections: z.number().int().min(1).max(1_000_000).prefault(1024),
          maxConnectionsPerClient: z.number().int().min(1).max(1_000_000).prefault(256),
          unauthenticatedIdleTimeout: DurationMs.refine((ms) => ms >= 100 && ms <= 600_000, { error: 'must be between 100ms and 10m' }).prefault('2s'),
          loginLimit: z
            .strictObject({
              perClient: z.number().int().min(1).max(1_000_000).prefault(10),
              overall: z.number().int().min(1).max(1_000_000).prefault(100),
              window: DurationMs.refine((ms) => ms >= 1000 && ms <= 86_400_000, { error: 'must be between 1s and 1d' }).prefault('1m'),
            })
            .prefault({}),
          insecureCookies: z.boolean().default(false),
          externalUrl: ExternalUrl.optional(),
        })
        .prefault({}),
      gitlab: z.strictObject({ url: Url.optional() }).optional(),
      taskQueue: z.string().min(1).max(256).optional(),
      users: ownRecordOf(
        z.string().min(1).max(256),
        z.strictObject({ tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 hex characters (sha256 of the user's token)" }) }),
      ).prefault({}),
      sso: z
        .strictObject({
          issuer: Url,
          clientId: z.string().min(1).max(256),
          userClaim: ClaimName.optional(),
          groupsClaim: ClaimName.prefault('groups'),
          algorithms: z.array(z.enum(SSO_ALGORITHMS)).min(1).prefault([...SSO_ALGORITHMS]),
        })
        .optional(),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `has unknown setting${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map(quote).join(', ')} (known: ${SETTINGS.join(', ')})`
          : iss.code === 'invalid_type'
            ? 'must be a mapping of settings'
            : undefined,
    },
  )
  .check((ctx) => {
    // Each cluster's policy is whole: the defaults with its overrides give it approvers, and a
    // two-person rule it can meet.
    for (const [name, c] of Object.entries(ctx.value.clusters)) {
      const r = checkPolicy(ctx.value.policy ?? {}, c.policy);
      if ('problems' in r) {
        // A part's own problems are listed already; what only the merge shows is no approvers at
        // all, or a two-person rule that unverified names could meet.
        const merged = { ...ctx.value.policy, ...c.policy };
        if ((merged.approvals ?? 1) > 1 && merged.allowUnverifiedDecisions) {
          ctx.issues.push({ code: 'custom', path: ['clusters', name, 'policy', 'allowUnverifiedDecisions'], message: `cannot be on with approvals ${merged.approvals}: one Temporal user could type both names`, input: true });
          continue;
        }
        if (ctx.value.policy?.approvers !== undefined || c.policy?.approvers !== undefined) continue;
        ctx.issues.push({ code: 'custom', path: ['clusters', name, 'policy'], message: 'has no approvers: set policy.approvers (the defaults) or this cluster\'s policy.approvers', input: c.policy });
        continue;
      }
      const { approvers, approvals } = r.data;
      if (approvers.every((a) => !a.startsWith('group:')) && new Set(approvers).size < approvals) {
        ctx.issues.push({ code: 'custom', path: ['clusters', name, 'policy', 'approvals'], message: `is ${approvals}, but only ${new Set(approvers).size} approver${approvers.length === 1 ? ' is' : 's are'} listed (and no group)`, input: approvals });
      }
    }
    // Node refuses a server whose headers may take longer than the whole request.
    if (ctx.value.server.headersTimeout > ctx.value.server.requestTimeout) {
      ctx.issues.push({ code: 'custom', path: ['server', 'headersTimeout'], message: 'must not be longer than server.requestTimeout', input: undefined });
    }
  });

/** The environment's settings; an empty variable counts as unset. */
const EnvSchema = z.object({
  HELM_UNSTUCK_LISTEN: Listen.optional(),
  HELM_UNSTUCK_GITLAB_URL: Url.optional(),
  HELM_UNSTUCK_TASK_QUEUE: z.string().max(256).optional(),
  KUBECONFIG: z.string().optional(),
});

function secret(env: NodeJS.ProcessEnv, name: string, problems: string[]): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(`${name}_FILE=${file}: ${(err as Error).message}`);
      return undefined;
    }
  }
  return env[name] || undefined;
}

function readFile(path: string, problems: string[]): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const path = env.HELM_UNSTUCK_CONFIG;
  const fromFile = check(FileSchema, path ? readFile(path, problems) : {}, 'the file');
  if ('problems' in fromFile) problems.push(...fromFile.problems.map((p) => `${path}: ${p}`));
  const fromEnv = check(EnvSchema, Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')), 'the environment');
  if ('problems' in fromEnv) problems.push(...fromEnv.problems);

  const webhookToken = secret(env, 'HELM_UNSTUCK_WEBHOOK_TOKEN', problems);
  if (webhookToken !== undefined && webhookToken.length < 16) problems.push('HELM_UNSTUCK_WEBHOOK_TOKEN must be at least 16 characters');
  const gitlabToken = secret(env, 'HELM_UNSTUCK_GITLAB_TOKEN', problems);
  const sessionSecret = secret(env, 'HELM_UNSTUCK_SESSION_SECRET', problems);
  if (sessionSecret !== undefined && sessionSecret.length < 32) problems.push('HELM_UNSTUCK_SESSION_SECRET must be at least 32 characters (openssl rand -hex 32)');
  const metricsToken = secret(env, 'HELM_UNSTUCK_METRICS_TOKEN', problems);
  if (metricsToken !== undefined && metricsToken.length < 16) problems.push('HELM_UNSTUCK_METRICS_TOKEN must be at least 16 characters');
  const seed = secret(env, 'HELM_UNSTUCK_DECISION_KEY', problems);
  const decisionKey = seed === undefined ? undefined : decodeKey(seed);
  if (seed !== undefined && decisionKey?.length !== 32) problems.push('HELM_UNSTUCK_DECISION_KEY must be an Ed25519 seed: 32 bytes, base64url (helm-unstuck keygen makes one)');
  if ('problems' in fromFile || 'problems' in fromEnv) throw new ConfigError(problems);
  const file = fromFile.data;
  const e = fromEnv.data;

  const gitlabUrl = e.HELM_UNSTUCK_GITLAB_URL ?? file.gitlab?.url;
  if ((gitlabUrl || gitlabToken) && !(gitlabUrl && gitlabToken)) {
    problems.push('GitLab needs both a URL (HELM_UNSTUCK_GITLAB_URL or gitlab.url) and HELM_UNSTUCK_GITLAB_TOKEN');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const kubeconfig = e.KUBECONFIG ?? file.kubeconfig;
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    clusters: file.clusters,
    policy: file.policy ?? {},
    decisionKeys: file.decisionKeys ?? [],
    people: Object.assign(Object.create(null) as Record<string, string[]>, file.people),
    alerts: file.alerts,
    ...(file.alertmanager ? { alertmanager: file.alertmanager } : {}),
    server: {
      listen: e.HELM_UNSTUCK_LISTEN ?? file.server.listen ?? '127.0.0.1:8080',
      maxBodyBytes: file.server.maxBodyBytes ?? 1 << 20,
      ...(webhookToken ? { webhookToken } : {}),
      ...(metricsToken ? { metricsToken } : {}),
      headersTimeoutMs: file.server.headersTimeout,
      requestTimeoutMs: file.server.requestTimeout,
      keepAliveTimeoutMs: file.server.keepAliveTimeout,
      maxConnections: file.server.maxConnections,
      maxConnectionsPerClient: file.server.maxConnectionsPerClient,
      unauthenticatedIdleTimeoutMs: file.server.unauthenticatedIdleTimeout,
      loginLimit: { perClient: file.server.loginLimit.perClient, overall: file.server.loginLimit.overall, windowMs: file.server.loginLimit.window },
      insecureCookies: file.server.insecureCookies,
      ...(file.server.externalUrl ? { externalUrl: file.server.externalUrl.replace(/\/+$/, '') } : {}),
    },
    ...(gitlabUrl && gitlabToken ? { gitlab: { url: gitlabUrl, token: gitlabToken } } : {}),
    taskQueue: e.HELM_UNSTUCK_TASK_QUEUE ?? file.taskQueue ?? 'helm-unstuck',
    // Null prototype, like the records it comes from: only configured names are users.
    users: Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries(Object.entries(file.users).map(([name, u]) => [name, u.tokenSha256]))),
    ...(sessionSecret ? { sessionSecret } : {}),
    ...(file.sso ? { sso: file.sso } : {}),
    ...(decisionKey ? { decisionKey } : {}),
  };
}

/** The file's identity and version: a ConfigMap update swaps the file, so one of these changes. */
function stampOf(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/**
 * The configuration as it is now: `loaded` until its file (HELM_UNSTUCK_CONFIG) changes, then
 * read and validated again. Throws ConfigError while the new file is invalid, so whatever asked
 * (an act checking its approval) fails and is retried, and never acts on a half-written policy.
 */
export function configNow(env: NodeJS.ProcessEnv, loaded: Config): () => Config {
  const path = env.HELM_UNSTUCK_CONFIG;
  if (!path) return () => loaded;
  let stamp = stampOf(path);
  let current = loaded;
  return () => {
    const now = stampOf(path);
    if (now !== stamp) {
      current = loadConfig(env);
      stamp = now;
    }
    return current;
  };
}
