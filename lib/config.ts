// helm-unstuck's configuration: an optional file (HELM_UNSTUCK_CONFIG, YAML or JSON) and
// environment variables, which win. Secrets come from the environment or from *_FILE paths
// (a mounted Kubernetes Secret), never from the file. Validated once at start; every problem is
// listed, and nothing starts until they are fixed.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_ALERT_MAPPING, type AlertMapping } from '../decisions/alerts';
import { validateRemediationInput, type CiWatch, type RemediationInput } from '../decisions/remediation';

export interface ClusterSettings {
  /** kubeconfig context for this cluster (default: the cluster's name). */
  context?: string;
  /** GitLab projects whose deploy jobs target this cluster (runbook step 1 and 6). */
  gitlab: CiWatch[];
}

export interface Config {
  kubeconfig?: string;
  clusters: Record<string, ClusterSettings>;
  policy: RemediationInput['policy'];
  alerts: AlertMapping;
  server: { listen: string; maxBodyBytes: number; webhookToken?: string };
  gitlab?: { url: string; token: string };
  taskQueue: string;
  /** Approval page users: name → SHA-256 (hex) of their login token. */
  users: Record<string, string>;
  /** Signs approval page sessions; random per process when unset (sessions end on restart). */
  sessionSecret?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  }
}

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

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  let file: Record<string, unknown> = {};
  const path = env.HELM_UNSTUCK_CONFIG;
  if (path) {
    try {
      const parsed: unknown = parseYaml(readFileSync(path, 'utf8'));
      if (!isObj(parsed)) problems.push(`${path}: must be a mapping at the top level`);
      else file = parsed;
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const known = ['kubeconfig', 'clusters', 'policy', 'alerts', 'server', 'gitlab', 'taskQueue', 'users'];
  for (const k of Object.keys(file)) if (!known.includes(k)) problems.push(`unknown setting "${k}" (known: ${known.join(', ')})`);

  const clusters: Record<string, ClusterSettings> = {};
  const rawClusters = file.clusters ?? {};
  if (!isObj(rawClusters)) problems.push('clusters must be a mapping of cluster name to settings');
  else {
    for (const [name, c] of Object.entries(rawClusters)) {
      if (!isObj(c)) {
        problems.push(`clusters.${name} must be a mapping`);
        continue;
      }
      const gitlab = (Array.isArray(c.gitlab) ? c.gitlab : []) as CiWatch[];
      clusters[name] = { ...(typeof c.context === 'string' ? { context: c.context } : {}), gitlab };
      if (gitlab.length === 0) problems.push(`clusters.${name}.gitlab: list the GitLab project(s) and environment whose jobs deploy to it`);
    }
  }
  const policy = (isObj(file.policy) ? file.policy : {}) as RemediationInput['policy'];
  if (!Array.isArray(policy.approvers)) policy.approvers = [];
  // Reuse the workflow's own validation for each cluster's input.
  for (const [name, c] of Object.entries(clusters)) {
    const sample: RemediationInput = { cluster: name, namespace: 'x', release: 'x', gitlab: c.gitlab, policy, trigger: { source: 'api', by: 'config' } };
    for (const p of validateRemediationInput(sample)) problems.push(`clusters.${name}: ${p}`);
  }
  if (Object.keys(clusters).length === 0 && (env.HELM_UNSTUCK_REQUIRE_CLUSTERS ?? '') !== '') problems.push('no clusters configured');

  const alertsIn = isObj(file.alerts) ? file.alerts : {};
  const alerts: AlertMapping = {
    alertnames: Array.isArray(alertsIn.alertnames) ? (alertsIn.alertnames as string[]) : DEFAULT_ALERT_MAPPING.alertnames,
    labels: { ...DEFAULT_ALERT_MAPPING.labels, ...(isObj(alertsIn.labels) ? (alertsIn.labels as Record<string, string>) : {}) },
  };
  const serverIn = isObj(file.server) ? file.server : {};
  const listen = env.HELM_UNSTUCK_LISTEN ?? (typeof serverIn.listen === 'string' ? serverIn.listen : '127.0.0.1:8080');
  if (!/^[^:]+:\d{1,5}$/.test(listen)) problems.push(`listen address "${listen}" must be host:port`);
  const maxBodyBytes = typeof serverIn.maxBodyBytes === 'number' ? serverIn.maxBodyBytes : 1 << 20;
  const webhookToken = secret(env, 'HELM_UNSTUCK_WEBHOOK_TOKEN', problems);
  if (webhookToken !== undefined && webhookToken.length < 16) problems.push('HELM_UNSTUCK_WEBHOOK_TOKEN must be at least 16 characters');

  const gitlabUrl = env.HELM_UNSTUCK_GITLAB_URL ?? (isObj(file.gitlab) && typeof file.gitlab.url === 'string' ? file.gitlab.url : undefined);
  const gitlabToken = secret(env, 'HELM_UNSTUCK_GITLAB_TOKEN', problems);
  let gitlab: Config['gitlab'];
  if (gitlabUrl || gitlabToken) {
    if (!gitlabUrl || !gitlabToken) problems.push('GitLab needs both a URL (HELM_UNSTUCK_GITLAB_URL or gitlab.url) and HELM_UNSTUCK_GITLAB_TOKEN');
    else {
      try {
        new URL(gitlabUrl);
        gitlab = { url: gitlabUrl, token: gitlabToken };
      } catch {
        problems.push(`GitLab URL "${gitlabUrl}" is not a URL`);
      }
    }
  }
  const users: Record<string, string> = {};
  if (file.users !== undefined) {
    if (!isObj(file.users)) problems.push('users must be a mapping of name to tokenSha256');
    else
      for (const [name, u] of Object.entries(file.users)) {
        const h = isObj(u) ? u.tokenSha256 : undefined;
        if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) problems.push(`users.${name}.tokenSha256 must be 64 hex characters (sha256 of the user's token)`);
        else users[name] = h;
      }
  }
  const sessionSecret = secret(env, 'HELM_UNSTUCK_SESSION_SECRET', problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(typeof file.kubeconfig === 'string' ? { kubeconfig: file.kubeconfig } : env.KUBECONFIG ? { kubeconfig: env.KUBECONFIG } : {}),
    clusters,
    policy,
    alerts,
    server: { listen, maxBodyBytes, ...(webhookToken ? { webhookToken } : {}) },
    ...(gitlab ? { gitlab } : {}),
    taskQueue: env.HELM_UNSTUCK_TASK_QUEUE || (typeof file.taskQueue === 'string' ? file.taskQueue : 'helm-unstuck'),
    users,
    ...(sessionSecret ? { sessionSecret } : {}),
  };
}
