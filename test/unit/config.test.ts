import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKey, newSecretKey, publicKeyOf } from '../../decisions/decision-proof';
import { ConfigError, configNow, loadConfig, SSO_ALGORITHMS } from '../../lib/config';

// loadConfig over real files: the file's settings, the environment's, and what wins.
const dir = mkdtempSync(join(tmpdir(), 'helm-unstuck-config-'));
let n = 0;
function file(text: string): string {
  const path = join(dir, `config-${++n}.yaml`);
  writeFileSync(path, text);
  return path;
}

const CLUSTER = `
clusters:
  gprd:
    context: gprd-ctx
    gitlab: [{project: gitlab-com/gl-infra/k8s-workloads/gitlab-com, environment: gprd}]
policy: {approvers: [alice, bob], escalateAfter: 30m}
`;

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loadConfig accepted it');
}

describe('loadConfig', () => {
  test('no file, no environment: the defaults', () => {
    expect(loadConfig({})).toEqual({
      clusters: {},
      policy: {},
      decisionKeys: [],
      people: {},
      alerts: { alertnames: ['HelmReleaseStuck'], labels: { cluster: 'cluster', namespace: 'namespace', release: 'label_name', revision: 'label_version' } },
      server: {
        listen: '127.0.0.1:8080',
        maxBodyBytes: 1 << 20,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5000,
        maxConnections: 1024,
        maxConnectionsPerClient: 256,
        unauthenticatedIdleTimeoutMs: 2000,
        loginLimit: { perClient: 10, overall: 100, windowMs: 60_000 },
        insecureCookies: false,
      },
      taskQueue: 'helm-unstuck',
      users: {},
    });
  });

  test('the configuration example of docs/operating.md loads as written', () => {
    const path = file(`${CLUSTER}
users:
  alice: {tokenSha256: 2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90}
alerts:
  alertnames: [HelmReleaseStuck]
  labels: {cluster: cluster, namespace: namespace, release: label_name, revision: label_version}
server: {listen: "0.0.0.0:8080", maxBodyBytes: 1048576}
kubeconfig: /etc/helm-unstuck/kubeconfig
`);
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: path, HELM_UNSTUCK_WEBHOOK_TOKEN: 'a-token-of-16-chars', HELM_UNSTUCK_GITLAB_URL: 'https://ops.gitlab.net', HELM_UNSTUCK_GITLAB_TOKEN: 'glpat' });
    expect(c).toMatchObject({
      kubeconfig: '/etc/helm-unstuck/kubeconfig',
      clusters: { gprd: { context: 'gprd-ctx', gitlab: [{ project: 'gitlab-com/gl-infra/k8s-workloads/gitlab-com', environment: 'gprd' }] } },
      policy: { approvers: ['alice', 'bob'], escalateAfter: '30m' },
      server: { listen: '0.0.0.0:8080', maxBodyBytes: 1048576, webhookToken: 'a-token-of-16-chars' },
      gitlab: { url: 'https://ops.gitlab.net', token: 'glpat' },
      users: { alice: '2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90' },
    });
  });

  test("a cluster's namespaces: the allowlist as written; unset, no key at all (every namespace)", () => {
    const path = file('clusters: {c: {gitlab: [{project: 1, environment: e}], namespaces: [gitlab, monitoring]}, d: {gitlab: [{project: 1, environment: e}]}}\npolicy: {approvers: [x]}\n');
    const { clusters } = loadConfig({ HELM_UNSTUCK_CONFIG: path });
    expect(clusters.c!.namespaces).toEqual(['gitlab', 'monitoring']);
    expect(Object.hasOwn(clusters.d!, 'namespaces')).toBe(false);
  });

  test('environment variables win over the file, kubeconfig included', () => {
    const path = file(`${CLUSTER}
kubeconfig: /from/file
server: {listen: "0.0.0.0:8080"}
gitlab: {url: "https://file.example"}
taskQueue: from-file
`);
    const c = loadConfig({
      HELM_UNSTUCK_CONFIG: path,
      KUBECONFIG: '/from/env',
      HELM_UNSTUCK_LISTEN: '127.0.0.1:9999',
      HELM_UNSTUCK_GITLAB_URL: 'https://env.example',
      HELM_UNSTUCK_GITLAB_TOKEN: 't',
      HELM_UNSTUCK_TASK_QUEUE: 'from-env',
    });
    expect(c).toMatchObject({ kubeconfig: '/from/env', server: { listen: '127.0.0.1:9999' }, gitlab: { url: 'https://env.example' }, taskQueue: 'from-env' });
    // Unset or empty variables leave the file's settings.
    expect(loadConfig({ HELM_UNSTUCK_CONFIG: path, KUBECONFIG: '', HELM_UNSTUCK_TASK_QUEUE: '', HELM_UNSTUCK_GITLAB_TOKEN: 't' })).toMatchObject({ kubeconfig: '/from/file', server: { listen: '0.0.0.0:8080' }, taskQueue: 'from-file' });
  });

  // A cluster is configured only if the file names it: not because every object has a constructor.
  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('a cluster named %s is not configured unless the file says so', (name) => {
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: file(CLUSTER) });
    expect(c.clusters[name]).toBeUndefined();
    expect(c.users[name]).toBeUndefined();
  });

  test("per-cluster overrides: production needs two approvers, staging auto-approves; only the operator's file says so", () => {
    const key = 'A'.repeat(43);
    const c = loadConfig({
      HELM_UNSTUCK_CONFIG: file(`
clusters:
  gprd: {gitlab: [{project: 1, environment: gprd}], policy: {approvals: 2, approvers: [alice, bob, "group:sre"]}}
  gstg: {gitlab: [{project: 1, environment: gstg}], policy: {autoApprove: {configuredBy: sre-lead, reason: staging only}}}
policy: {approvers: [alice], allowUnverifiedDecisions: false}
decisionKeys: [${key}]
`),
    });
    expect(c.clusters.gprd?.policy).toEqual({ approvals: 2, approvers: ['alice', 'bob', 'group:sre'] });
    expect(c.clusters.gstg?.policy).toEqual({ autoApprove: { configuredBy: 'sre-lead', reason: 'staging only' } });
    expect(c.policy).toEqual({ approvers: ['alice'], allowUnverifiedDecisions: false });
    expect(c.decisionKeys).toEqual([key]);
  });

  test("the admission policy is required unless a cluster says not-required; the probe namespace is the operator's choice", () => {
    const path = file(CLUSTER.replace('policy:', '  gstg:\n    gitlab: [{project: 1, environment: gstg}]\n    admissionPolicy: not-required\n    admissionProbeNamespace: gitlab\npolicy:'));
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: path }).clusters;
    expect(c.gprd).not.toHaveProperty('admissionPolicy');
    expect(c.gstg).toMatchObject({ admissionPolicy: 'not-required', admissionProbeNamespace: 'gitlab' });
  });

  test.each(['constructor', 'toString'])('a cluster really named %s is configured like any other', (name) => {
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: file(CLUSTER.replace('gprd:', `${name}:`)) });
    expect(Object.keys(c.clusters)).toEqual([name]);
    expect(c.clusters[name]).toMatchObject({ context: 'gprd-ctx' });
  });

  const invalid: [string, string, NodeJS.ProcessEnv, string[]][] = [
    ['a list at the top level', '[1, 2]', {}, ['the file must be a mapping of settings']],
    ['an unknown setting', 'polcy: {}', {}, ['the file has unknown setting "polcy" (known: kubeconfig, clusters, policy, decisionKeys, people, alerts, alertmanager, server, gitlab, taskQueue, users, sso)']],
    ['a misspelt policy key', `${CLUSTER.replace('escalateAfter', 'escalateAter')}`, {}, ['policy has unknown key "escalateAter"']],
    ['clusters as a list', 'clusters: [gprd]', {}, ['clusters must be a mapping']],
    ['a cluster without GitLab projects', 'clusters: {gprd: {}}\npolicy: {approvers: [a]}', {}, ['clusters.gprd.gitlab must list at least one GitLab project and environment to watch (runbook step 1)']],
    ['a misspelt cluster setting', `${CLUSTER.replace('context:', 'contxt:')}`, {}, ['clusters.gprd has unknown key "contxt"']],
    ['a cluster name with a slash', `${CLUSTER.replace('gprd:', '"a/b":')}`, {}, ['clusters.a/b is not a valid name: "a/b" must not contain "/" or whitespace']],
    ['a cluster named __proto__ (YAML keeps it as a key)', `${CLUSTER.replace('gprd:', '__proto__:')}`, {}, ['clusters.__proto__ is not allowed as a name']],
    ['clusters but no policy', 'clusters: {gprd: {gitlab: [{project: 1, environment: e}]}}', {}, ["clusters.gprd.policy has no approvers: set policy.approvers (the defaults) or this cluster's policy.approvers"]],
    ['a cluster policy with a misspelt key', `${CLUSTER.replace('context: gprd-ctx', 'policy: {aprovals: 2}')}`, {}, ['clusters.gprd.policy has unknown key "aprovals"']],
    ['a two-person rule with one approver', `${CLUSTER.replace('context: gprd-ctx', 'policy: {approvers: [alice], approvals: 2}')}`, {}, ['clusters.gprd.policy.approvals is 2, but only 1 approver is listed (and no group)']],
    // issue 20: one Temporal user could type both names of a two-person rule
    ['a two-person rule that unverified names could meet', `${CLUSTER.replace('context: gprd-ctx', 'policy: {approvals: 2, allowUnverifiedDecisions: true}')}`, {}, ['clusters.gprd.policy.allowUnverifiedDecisions cannot be on with approvals 2: one Temporal user could type both names']],
    ['people with a name that is no principal', 'people: {alice: [alice]}', {}, ['people.alice "alice" must name its namespace (token:NAME, sso:NAME, temporal:NAME)']],
    ['one name given to two people', 'people: {alice: ["token:al"], albert: ["token:AL"]}', {}, ['people.albert token:AL belongs to both alice and albert']],
    ['six approvals', `${CLUSTER.replace('escalateAfter: 30m', 'approvals: 6')}`, {}, ['policy.approvals must be a whole number from 1 to 5']],
    ['autoApprove: true', `${CLUSTER.replace('escalateAfter: 30m', 'autoApprove: true')}`, {}, ['policy.autoApprove must name who configured it (configuredBy) and why (reason)']],
    ['a decision key that is not one', `${CLUSTER}decisionKeys: [not-a-key]`, {}, ['decisionKeys[0] "not-a-key" is not a base64url Ed25519 public key (32 bytes)']],
    ['a policy without approvers', `${CLUSTER.replace('[alice, bob]', '[]')}`, {}, ['policy.approvers must list at least one approver']],
    ['a bad duration and a bad project', `${CLUSTER.replace('30m', 'soon').replace('gitlab-com/gl-infra/k8s-workloads/gitlab-com', '""')}`, {}, ['clusters.gprd.gitlab[0].project must be a project path (group/name) or a numeric id', 'policy.escalateAfter must be a duration like 30s, 5m or 1h, not "soon"']],
    ['a label name with a space', 'alerts: {labels: {cluster: "k8s cluster"}}', {}, ['alerts.labels.cluster "k8s cluster" is not a Prometheus label name']],
    ['no alert names', 'alerts: {alertnames: []}', {}, ['alerts.alertnames is empty']],
    ['a listen address without a port', 'server: {listen: "0.0.0.0"}', {}, ['server.listen "0.0.0.0" must be host:port']],
    ['a body limit as a string', 'server: {maxBodyBytes: "1MiB"}', {}, ['server.maxBodyBytes must be a number']],
    ['an external URL that is not one', 'server: {externalUrl: "helm-unstuck.example"}', {}, ['server.externalUrl "helm-unstuck.example" is not a URL']],
    ['an external URL with a query', 'server: {externalUrl: "https://h.example/?a=1"}', {}, ['server.externalUrl "https://h.example/?a=1" must not have a query or fragment (serve\'s paths are appended to it)']],
    ['an external URL with a template in it', 'server: {externalUrl: "https://h.example/{{ .x }}"}', {}, ['server.externalUrl "https://h.example/{{ .x }}" must not contain braces, quotes, angle brackets, backslashes or whitespace']],
    ['an external URL with a password', 'server: {externalUrl: "https://u:p@h.example"}', {}, ['server.externalUrl "https://u:p@h.example" must not carry a user or password']],
    ['an external URL of another scheme', 'server: {externalUrl: "javascript:alert(1)"}', {}, ['server.externalUrl "javascript:alert(1)" must be an http or https URL']],
    ['a huge external URL', `server: {externalUrl: "https://h.example/${'a'.repeat(3000)}"}`, {}, [`server.externalUrl "https://h.example/${'a'.repeat(46)}…" is longer than 2048 characters`]],
    ['a user without a sha256', 'users: {bob: {tokenSha256: hunter2}}', {}, ["users.bob.tokenSha256 must be 64 hex characters (sha256 of the user's token)"]],
    ['a token in the file', 'users: {bob: {token: hunter2}}', {}, ['users.bob.tokenSha256 must be a string (it is missing)', 'users.bob has unknown key "token"']],
    ['headers allowed longer than the request', 'server: {headersTimeout: 1m, requestTimeout: 30s}', {}, ['server.headersTimeout must not be longer than server.requestTimeout']],
    ['a zero connection limit and a 0s login window', 'server: {maxConnections: 0, loginLimit: {window: 0s}}', {}, ['server.maxConnections must be at least 1', 'server.loginLimit.window must be between 1s and 1d']],
    ['no per-client connections and an idle timeout of 10ms', 'server: {maxConnectionsPerClient: 0, unauthenticatedIdleTimeout: 10ms}', {}, ['server.maxConnectionsPerClient must be at least 1', 'server.unauthenticatedIdleTimeout must be between 100ms and 10m']],
    ['sso without a client id', 'sso: {issuer: "https://sso.example"}', {}, ['sso.clientId must be a string (it is missing)']],
    ['sso allowing a shared-secret algorithm', 'sso: {issuer: "https://sso.example", clientId: c, algorithms: [HS256]}', {}, ['sso.algorithms[0] must be "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512" or "EdDSA", not "HS256"']],
    ['a decision key that is not one', 'decisionKeys: [not-a-key]', {}, ['decisionKeys[0] "not-a-key" is not a base64url Ed25519 public key (32 bytes)']],
    ['an empty namespace list and a namespace that is not a name', `clusters: {a: {gitlab: [{project: 1, environment: e}], namespaces: []}, b: {gitlab: [{project: 1, environment: e}], namespaces: [Git_Lab]}}\npolicy: {approvers: [x]}`, {}, ['clusters.a.namespaces is empty', 'clusters.b.namespaces[0] "Git_Lab" is not a valid Kubernetes namespace name']],
    ['a huge cluster name', `clusters: {${'c'.repeat(300)}: {gitlab: [{project: 1, environment: e}]}}\npolicy: {approvers: [a]}`, {}, [`clusters.${'c'.repeat(64)}… is not a valid name: is longer than 253 characters`]],
    ['an admission policy requirement that is not one', `${CLUSTER.replace('context: gprd-ctx', 'admissionPolicy: optional')}`, {}, ['clusters.gprd.admissionPolicy must be "required" or "not-required", not "optional"']],
    ['a probe namespace that is not a namespace', `${CLUSTER.replace('context: gprd-ctx', 'admissionProbeNamespace: Kube_System')}`, {}, ['clusters.gprd.admissionProbeNamespace "Kube_System" is not a valid Kubernetes namespace name']],
  ];
  test.each(invalid)('refuses %s, saying where', (_w, text, env, expected) => {
    const path = file(text);
    expect(problems({ HELM_UNSTUCK_CONFIG: path, ...env })).toEqual(expected.map((p) => `${path}: ${p}`));
  });

  test.each<[string, NodeJS.ProcessEnv, string[]]>([
    ['a listen address that is not host:port', { HELM_UNSTUCK_LISTEN: 'localhost' }, ['HELM_UNSTUCK_LISTEN "localhost" must be host:port']],
    ['a GitLab URL that is not one', { HELM_UNSTUCK_GITLAB_URL: 'ops gitlab', HELM_UNSTUCK_GITLAB_TOKEN: 't' }, ['HELM_UNSTUCK_GITLAB_URL "ops gitlab" is not a URL']],
    ['a GitLab token without a URL', { HELM_UNSTUCK_GITLAB_TOKEN: 't' }, ['GitLab needs both a URL (HELM_UNSTUCK_GITLAB_URL or gitlab.url) and HELM_UNSTUCK_GITLAB_TOKEN']],
    ['a short webhook token', { HELM_UNSTUCK_WEBHOOK_TOKEN: 'short' }, ['HELM_UNSTUCK_WEBHOOK_TOKEN must be at least 16 characters']],
    ['a short session secret', { HELM_UNSTUCK_SESSION_SECRET: 'x'.repeat(31) }, ['HELM_UNSTUCK_SESSION_SECRET must be at least 32 characters (openssl rand -hex 32)']],
    ['a short metrics token', { HELM_UNSTUCK_METRICS_TOKEN: 'short' }, ['HELM_UNSTUCK_METRICS_TOKEN must be at least 16 characters']],
    ['a decision key of 31 bytes', { HELM_UNSTUCK_DECISION_KEY: encodeKey(new Uint8Array(31)) }, ['HELM_UNSTUCK_DECISION_KEY must be an Ed25519 seed: 32 bytes, base64url (helm-unstuck keygen makes one)']],
    ['a secret file that is not there', { HELM_UNSTUCK_SESSION_SECRET_FILE: '/nonexistent/secret' }, [expect.stringMatching(/^HELM_UNSTUCK_SESSION_SECRET_FILE=\/nonexistent\/secret: ENOENT/) as unknown as string]],
  ])('refuses %s in the environment', (_w, env, expected) => {
    expect(problems(env)).toEqual(expected);
  });

  test.each([
    ['a backreference', '^(deploy):\\1', 'invalid escape sequence: `\\1`'],
    ['a lookahead', '^(?!gstg)', 'invalid or unsupported Perl syntax: `(?!`'],
    ['an unclosed group', '(', 'missing closing ): `(`'],
  ])('a jobPattern RE2 refuses (%s) is a clear configuration error', (_w, pattern, why) => {
    const path = file(`clusters:\n  gprd:\n    gitlab: [{project: 1, environment: gprd, jobPattern: '${pattern}'}]\npolicy: {approvers: [alice]}\n`);
    expect(problems({ HELM_UNSTUCK_CONFIG: path })).toEqual([`${path}: clusters.gprd.gitlab[0].jobPattern ${JSON.stringify(pattern)} is not an RE2 regular expression (${why})`]);
  });

  test('sso, decision keys and server limits load with their defaults; secrets from *_FILE', () => {
    const seed = newSecretKey();
    const keyFile = join(dir, 'decision-key');
    writeFileSync(keyFile, `${encodeKey(seed)}\n`);
    const path = file(`sso: {issuer: "https://sso.example/", clientId: helm-unstuck}\ndecisionKeys: [${publicKeyOf(seed)}]\nserver: {headersTimeout: 5s, maxConnections: 64, loginLimit: {perClient: 3}, insecureCookies: true}`);
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: path, HELM_UNSTUCK_DECISION_KEY_FILE: keyFile, HELM_UNSTUCK_METRICS_TOKEN: 'metrics-token-16chars', HELM_UNSTUCK_SESSION_SECRET: 's'.repeat(32) });
    expect(c.sso).toEqual({ issuer: 'https://sso.example/', clientId: 'helm-unstuck', groupsClaim: 'groups', algorithms: [...SSO_ALGORITHMS] });
    expect(c.decisionKeys).toEqual([publicKeyOf(seed)]);
    expect(c.decisionKey).toEqual(seed);
    expect(c.server).toMatchObject({ headersTimeoutMs: 5000, maxConnections: 64, metricsToken: 'metrics-token-16chars', loginLimit: { perClient: 3, overall: 100, windowMs: 60_000 }, insecureCookies: true });
    expect(c.sessionSecret).toBe('s'.repeat(32));
  });

  test("who gets told: alertmanager.url, an http(s) URL, optional; with server.externalUrl", () => {
    const c = loadConfig({ HELM_UNSTUCK_CONFIG: file(`alertmanager: {url: "http://alertmanager.monitoring:9093"}\nserver: {externalUrl: "https://helm-unstuck.example.com"}`) });
    expect(c.alertmanager).toEqual({ url: 'http://alertmanager.monitoring:9093' });
    expect(c.server.externalUrl).toBe('https://helm-unstuck.example.com');
    expect(loadConfig({})).not.toHaveProperty('alertmanager');
    expect(loadConfig({}).server).not.toHaveProperty('externalUrl');
    expect(problems({ HELM_UNSTUCK_CONFIG: file(`alertmanager: {url: "alertmanager:9093"}\nserver: {externalUrl: "ftp://x"}`) })).toEqual([
      expect.stringMatching(/config-\d+\.yaml: alertmanager\.url "alertmanager:9093" is not an http\(s\) URL$/),
      expect.stringMatching(/config-\d+\.yaml: server\.externalUrl "ftp:\/\/x" /),
    ]);
  });

  test('server.externalUrl is optional, and kept without its trailing slash (serve\'s paths are appended)', () => {
    expect(loadConfig({}).server.externalUrl).toBeUndefined();
    expect(loadConfig({ HELM_UNSTUCK_CONFIG: file('server: {externalUrl: "https://helm-unstuck.example/ops/"}') }).server.externalUrl).toBe('https://helm-unstuck.example/ops');
  });

  test('lists every problem at once, file and environment', () => {
    const path = file('server: {listen: nope}\nusers: {bob: {tokenSha256: x}}\nwat: 1');
    expect(problems({ HELM_UNSTUCK_CONFIG: path, HELM_UNSTUCK_LISTEN: 'x', HELM_UNSTUCK_WEBHOOK_TOKEN: 'short' })).toHaveLength(5);
  });

  test('a file that is not YAML, or not there', () => {
    expect(problems({ HELM_UNSTUCK_CONFIG: file('clusters: [') })).toEqual([expect.stringMatching(/config-\d+\.yaml: .+/)]);
    expect(problems({ HELM_UNSTUCK_CONFIG: join(dir, 'absent.yaml') })).toEqual([expect.stringMatching(/absent\.yaml: ENOENT/)]);
  });
});

describe('configNow: the configuration as it is now (the acts check approvals against it)', () => {
  const withApprovers = (who: string) => `clusters: {gprd: {gitlab: [{project: 1, environment: e}]}}\npolicy: {approvers: [${who}]}\n`;

  test('the loaded one until the file changes; then the file read again; an invalid file throws, and is read again once fixed', () => {
    const path = file(withApprovers('alice, bob'));
    const env = { HELM_UNSTUCK_CONFIG: path };
    const now = configNow(env, loadConfig(env));
    expect(now().policy.approvers).toEqual(['alice', 'bob']);
    writeFileSync(path, withApprovers('bob'));
    expect(now().policy.approvers).toEqual(['bob']);
    writeFileSync(path, 'clusters: [');
    expect(() => now()).toThrow(ConfigError);
    writeFileSync(path, withApprovers('carol'));
    expect(now().policy.approvers).toEqual(['carol']);
  });

  test('no file: the configuration from the environment, as loaded', () => {
    const loaded = loadConfig({});
    expect(configNow({}, loaded)()).toBe(loaded);
  });
});
