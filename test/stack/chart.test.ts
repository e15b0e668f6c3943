// helm-unstuck's chart, checked by real helm v3 and v4 (no cluster needed): `helm lint --strict`
// is clean, the schema refuses what would be unsafe or could not start, and what it renders is
// what helm-unstuck itself accepts (the config file and *_FILE secrets go through loadConfig).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { MARKED_FROM } from '../../activities/unlock';
import { encodeKey } from '../../decisions/decision-proof';
import { EXAMPLE_EXTERNAL_URL } from '../../deploy/prometheus/rules';
import { loadConfig } from '../../lib/config';
import { helmFor } from './fixtures';
import { OWN_CHART, type HelmMajor } from './helm';
import { tempDir } from './process';
import { sharedStack } from './shared';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);

type Obj = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const OPTIONAL_ON = [
  'rbac.mode=namespaced',
  'rbac.namespaces={gitlab,registry}',
  'networkPolicy.enabled=true',
  'serviceMonitor.enabled=true',
  'secrets.gitlabToken.name=ops-gitlab',
  'secrets.sessionSecret.name=approval-sessions',
  'secrets.decisionKey.name=decision-key',
  'secrets.metricsToken.name=metrics-token',
  'config.sso.issuer=https://sso.example/',
  'config.sso.clientId=helm-unstuck',
  'kubeconfigSecret.name=remote-clusters',
  'temporal.apiKeySecret.name=temporal-cloud',
  'temporal.tls=true',
  'config.gitlab.url=https://ops.gitlab.net',
  'config.clusters.gprd.context=inClusterContext',
  'config.clusters.gprd.gitlab[0].project=gitlab-com/gl-infra/k8s-workloads/gitlab-com',
  'config.clusters.gprd.gitlab[0].environment=gprd',
  'config.policy.approvers={alice,bob}',
  'containerPort=9090',
  'worker.metricsPort=9091',
  'externalUrl=https://helm-unstuck.example.net/ops/',
];
const sets = (values: string[]) => values.flatMap((v) => ['--set', v]);
// The chart needs Kubernetes >= 1.30 (kubeVersion). `helm template` checks that against
// --kube-version, which CD tools pass for the cluster they target; without it, helm assumes the
// version its build was stamped with, which for the stack's helm (built without upstream's
// k8sVersion ldflags, tools/build) is v1.20.0. Render for the stack's API server.
const KUBE = ['--kube-version', sharedStack().kubeVersion];

describe.each([3, 4] as HelmMajor[])('helm v%i', (major) => {
  const helm = helmFor(major);

  async function render(values: string[]): Promise<Obj[]> {
    const out = await helm.ok(['template', ...KUBE, 'hu', OWN_CHART, '-n', 'ops', ...sets(values)]);
    return parseAllDocuments(out)
      .map((d) => d.toJSON() as Obj | null)
      .filter((o): o is Obj => o !== null);
  }

  test('helm lint --strict is clean, with the defaults and with every option on', async () => {
    for (const values of [[], OPTIONAL_ON]) {
      const r = await helm.run(['lint', '--strict', OWN_CHART, ...sets(values)]);
      expect({ values, code: r.code, out: r.stdout + r.stderr }).toEqual({ values, code: 0, out: expect.stringContaining('0 chart(s) failed') });
      expect(r.stdout + r.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  test.each([
    [['rbac.mode=everywhere'], /rbac\.mode|mode/],
    [['rbac.mode=namespaced'], /namespaces/],
    [['securityContext.readOnlyRootFilesystem=false'], /readOnlyRootFilesystem/],
    [['securityContext.allowPrivilegeEscalation=true'], /allowPrivilegeEscalation/],
    [['podSecurityContext.runAsNonRoot=false'], /runAsNonRoot/],
    [['temporal.address=temporal'], /address/],
    [['secrets.webhookToken.name='], /webhookToken/],
    [['config.users.alice.tokenSha256=hunter2'], /tokenSha256/],
    [['config.policy.strategy=rollback'], /strategy/],
    [['unknownSetting=1'], /unknownSetting/],
  ])('the schema refuses %j', async (values, why) => {
    const r = await helm.run(['template', ...KUBE, 'hu', OWN_CHART, ...sets(values)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(why);
  });

  test('two Deployments from one image: serve without Kubernetes credentials, the worker with the ServiceAccount; PDBs and NetworkPolicies per Deployment', async () => {
    const objs = await render([...OPTIONAL_ON, 'serve.replicaCount=2']);
    const deployments = Object.fromEntries(objs.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d as unknown as { spec: { replicas: number; template: { spec: PodSpec & { automountServiceAccountToken: boolean } } } }]));
    expect(Object.keys(deployments).sort()).toEqual(['hu-helm-unstuck-serve', 'hu-helm-unstuck-worker']);
    const serve = deployments['hu-helm-unstuck-serve']!.spec;
    const worker = deployments['hu-helm-unstuck-worker']!.spec;
    expect([serve.replicas, worker.replicas]).toEqual([2, 1]);
    expect(serve.template.spec).toMatchObject({ serviceAccountName: 'hu-helm-unstuck-serve', automountServiceAccountToken: false });
    expect(serve.template.spec.containers[0]).toMatchObject({ image: 'helm-unstuck:0.1.0', args: ['serve', '--no-worker'] });
    expect(worker.template.spec).toMatchObject({ serviceAccountName: 'hu-helm-unstuck', automountServiceAccountToken: true });
    expect(worker.template.spec.containers[0]).toMatchObject({ image: 'helm-unstuck:0.1.0', args: ['worker', '--listen', '0.0.0.0:9091'], ports: [{ name: 'http', containerPort: 9091, protocol: 'TCP' }] });
    // serve's ServiceAccount exists, mounts nothing, and nothing binds it.
    expect(objs.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'hu-helm-unstuck-serve')).toMatchObject({ automountServiceAccountToken: false });
    expect(JSON.stringify(objs.filter((o) => /Binding/.test(o.kind)))).not.toContain('hu-helm-unstuck-serve');
    // serve's secrets are serve's, the worker's the worker's: the GitLab token and the kubeconfig never reach serve.
    const vols = (p: PodSpec) => p.volumes.map((v) => v.name).sort();
    expect(vols(serve.template.spec)).toEqual(['config', 'decision-key', 'metrics-token', 'session-secret', 'tmp', 'webhook-token']);
    expect(vols(worker.template.spec)).toEqual(['config', 'gitlab-token', 'kubeconfig', 'metrics-token', 'tmp']);

    const pdbs = objs.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(pdbs).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ name: 'hu-helm-unstuck-serve' }), spec: { minAvailable: 1, selector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'serve' }) } } })]);
    expect((await render([])).filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
    // Two serve replicas must share the session secret, or a user signed in on one is a stranger to the other.
    const r = await helm.run(['template', ...KUBE, 'hu', OWN_CHART, '--set', 'serve.replicaCount=2']);
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 1, err: expect.stringContaining('secrets.sessionSecret') });

    const policies = Object.fromEntries(objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => [o.metadata.name, (o as unknown as { spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { from: unknown[]; ports: unknown[] }[] } }).spec]));
    const values = parseAllDocuments(readFileSync(join(OWN_CHART, 'values.yaml'), 'utf8'))[0]!.toJSON() as { networkPolicy: Record<string, unknown[]> };
    const np = values.networkPolicy;
    expect(policies['hu-helm-unstuck-serve']).toMatchObject({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'serve' } }, ingress: [{ ports: [{ port: 'http', protocol: 'TCP' }], from: [...np.alertmanager!, ...np.prometheus!, ...np.ssoProxy!] }] });
    expect(policies['hu-helm-unstuck-worker']).toMatchObject({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'worker' } }, ingress: [{ ports: [{ port: 'http', protocol: 'TCP' }], from: np.prometheus }] });
    // The Services: serve's for everyone it admits, the worker's for its /metrics only.
    const services = objs.filter((o) => o.kind === 'Service') as unknown as { metadata: { name: string }; spec: { selector: Record<string, string>; ports: { name: string }[] } }[];
    expect(services.map((x) => [x.metadata.name, x.spec.selector['app.kubernetes.io/component'], x.spec.ports.map((p) => p.name)])).toEqual([
      ['hu-helm-unstuck', 'serve', ['http']],
      ['hu-helm-unstuck-worker', 'worker', ['metrics']],
    ]);
    // The schema keeps serve without its worker: a `serve` that would run one, with no credentials, is refused.
    const withWorker = await helm.run(['template', ...KUBE, 'hu', OWN_CHART, '--set', 'serve.args={serve}']);
    expect(withWorker.code).not.toBe(0);
  });

  test.each(['serve', 'worker'])('the %s Deployment runs restricted, with probes and resources; config and secrets reach helm-unstuck as it reads them', async (component) => {
    const objs = await render(OPTIONAL_ON);
    const deployment = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === `hu-helm-unstuck-${component}`) as unknown as {
      spec: { template: { spec: PodSpec } };
    };
    const pod = deployment.spec.template.spec;
    const c = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
    expect(c.resources).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } });
    expect(pod.serviceAccountName).toBe(component === 'serve' ? 'hu-helm-unstuck-serve' : 'hu-helm-unstuck');
    // Secrets only by reference: no Secret is rendered, and no env value holds one.
    expect(objs.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(c.env.filter((e) => /TOKEN$|SECRET$/.test(e.name) && e.value !== undefined)).toEqual([]);

    // Replay the pod's view on this machine: each mounted volume becomes a folder under `root`.
    const root = tempDir('chart-pod');
    const configMap = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'hu-helm-unstuck') as unknown as { data: Record<string, string> };
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    for (const m of c.volumeMounts) {
      const v = volumes.get(m.name)!;
      mkdirSync(join(root, m.mountPath), { recursive: true });
      if (v.configMap) for (const [k, text] of Object.entries(configMap.data)) writeFileSync(join(root, m.mountPath, k), text);
      for (const item of v.secret?.items ?? []) writeFileSync(join(root, m.mountPath, item.path), `${v.secret!.secretName}-0123456789abcdef\n`);
    }
    const env: NodeJS.ProcessEnv = {};
    for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value.startsWith('/etc/') ? join(root, e.value) : e.value;
    // The decision key must be a real seed; the other secrets are any text.
    if (component === 'serve') writeFileSync(env.HELM_UNSTUCK_DECISION_KEY_FILE!, `${encodeKey(SEED)}\n`);
    const cfg = loadConfig(env);
    expect(c.args).toEqual(component === 'serve' ? ['serve', '--no-worker'] : ['worker', '--listen', '0.0.0.0:9091']);
    const common = {
      server: { listen: `0.0.0.0:${component === 'serve' ? 9090 : 9091}`, externalUrl: 'https://helm-unstuck.example.net/ops', maxBodyBytes: 1048576, metricsToken: 'metrics-token-0123456789abcdef' },
      sso: { issuer: 'https://sso.example/', clientId: 'helm-unstuck' },
      clusters: { gprd: { context: 'inClusterContext', gitlab: [{ project: 'gitlab-com/gl-infra/k8s-workloads/gitlab-com', environment: 'gprd' }] } },
      policy: { approvers: ['alice', 'bob'] },
      taskQueue: 'helm-unstuck',
    };
    if (component === 'serve') {
      expect(cfg.decisionKey).toEqual(SEED);
      expect(cfg).toMatchObject({ ...common, server: { ...common.server, webhookToken: 'helm-unstuck-webhook-0123456789abcdef' }, sessionSecret: 'approval-sessions-0123456789abcdef' });
      // Nothing that reaches a cluster or GitLab.
      expect(cfg.kubeconfig).toBeUndefined();
      expect(cfg.gitlab?.token).toBeUndefined();
    } else {
      expect(cfg).toMatchObject({ ...common, gitlab: { url: 'https://ops.gitlab.net', token: 'ops-gitlab-0123456789abcdef' }, kubeconfig: join('/etc/helm-unstuck/secrets/kubeconfig', 'kubeconfig') });
      expect([cfg.decisionKey, cfg.sessionSecret, cfg.server.webhookToken]).toEqual([undefined, undefined, undefined]);
    }
    // The image sets HELM_UNSTUCK_LISTEN=0.0.0.0:8080; the pod's own value must win over it.
    const port = component === 'serve' ? 9090 : 9091;
    expect(c.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
    expect(env).toMatchObject({ HELM_UNSTUCK_LISTEN: `0.0.0.0:${port}`, TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc:7233', TEMPORAL_TLS: 'true' });
  });

  test('RBAC: a ClusterRole, or a Role and RoleBinding in each listed namespace, granting exactly what the activities use', async () => {
    const rules = [
      { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] },
      { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['list'] },
      // Runbook step 6 reads each object of a chart: `get` only, on rbac.readObjects' kinds.
      { apiGroups: [''], resources: ['services', 'serviceaccounts', 'persistentvolumeclaims'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get'] },
      { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get'] },
      { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['get'] },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get'] },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies'], verbs: ['get'] },
    ];
    const subject = { kind: 'ServiceAccount', name: 'hu-helm-unstuck', namespace: 'ops' };
    const rbacOf = (objs: Obj[]) => objs.filter((o) => /Role/.test(o.kind));

    const cluster = rbacOf(await render([]));
    expect(cluster.map((o) => o.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    expect(cluster[0]).toMatchObject({ rules });
    expect(cluster[1]).toMatchObject({ subjects: [subject] });

    const namespaced = rbacOf(await render(OPTIONAL_ON));
    expect(namespaced.map((o) => `${o.kind} ${o.metadata.namespace}`).sort()).toEqual([
      'Role gitlab',
      'Role registry',
      'RoleBinding gitlab',
      'RoleBinding registry',
    ]);
    for (const o of namespaced) expect(o).toMatchObject(o.kind === 'Role' ? { rules } : { subjects: [subject] });

    // Narrowed to the kinds a team's charts render; never pods.
    const narrowed = rbacOf(await render(['rbac.readObjects[0].apiGroups={apps}', 'rbac.readObjects[0].resources={deployments}']));
    expect(narrowed[0]).toMatchObject({ rules: [...rules.slice(0, 3), { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] }] });
    expect((await helm.run(['template', ...KUBE, 'hu', OWN_CHART, '-n', 'ops', ...sets(['rbac.readObjects[0].apiGroups={}', 'rbac.readObjects[0].resources={pods}'])])).code).not.toBe(0);

    const policy = (await render([])).filter((o) => /ValidatingAdmissionPolicy/.test(o.kind));
    expect(policy.map((o) => o.kind)).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    expect(JSON.stringify(policy[0])).toContain('request.userInfo.username == \\"system:serviceaccount:ops:hu-helm-unstuck\\"');
    // The mark it lets an update set is the one unlock writes (one fact, one home: activities/unlock.ts).
    expect(JSON.stringify(policy[0])).toContain(`"\\"${MARKED_FROM}\\""`);
    // ValidatingAdmissionPolicy v1 is GA in 1.30: the chart says so, and helm refuses older clusters.
    const old = await helm.run(['template', 'hu', OWN_CHART, '--kube-version', '1.29.9']);
    expect({ code: old.code, err: old.stderr }).toEqual({ code: 1, err: expect.stringContaining('>=1.30.0-0') });
  });

  test('PrometheusRule: off by default; on, it carries the shipped rules with externalUrl as incident_url, and refuses to render an empty rules file', async () => {
    expect((await render([])).filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
    const ruleOf = async (values: string[]) => (await render(['prometheusRule.enabled=true', ...values])).find((o) => o.kind === 'PrometheusRule') as unknown as { spec: { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] } };
    const plain = parseAllDocuments(readFileSync(join(OWN_CHART, '..', '..', 'prometheus', 'helm-unstuck.prometheusrule.yaml'), 'utf8'))[0]!.toJSON() as { spec: unknown };
    // The shipped files link to the example URL; the chart given that URL renders exactly them.
    expect(await ruleOf([`externalUrl=${EXAMPLE_EXTERNAL_URL}/`])).toMatchObject({ spec: plain.spec });
    const stuck = async (values: string[]) => (await ruleOf(values)).spec.groups[0]!.rules.find((r) => r.alert === 'HelmReleaseStuck')!.annotations;
    expect((await stuck(['externalUrl=https://hu.example.net/ops'])).incident_url).toBe('https://hu.example.net/ops/releases/{{ $labels.cluster | urlquery }}/{{ $labels.namespace | urlquery }}/{{ $labels.label_name | urlquery }}');
    // No externalUrl: no link at all, rather than one to nowhere.
    expect(Object.keys(await stuck([])).sort()).toEqual(['description', 'runbook_url', 'summary']);
    for (const bad of ['helm-unstuck.example.net', 'https://hu.example.net/{{ .x }}', 'https://hu.example.net/?a=1', 'https://user:pw@hu.example.net']) {
      const r = await helm.run(['template', ...KUBE, 'hu', OWN_CHART, '--set', `externalUrl=${bad}`]);
      expect({ bad, code: r.code, err: r.stderr }).toEqual({ bad, code: 1, err: expect.stringContaining('externalUrl') });
    }

    const empty = join(tempDir('chart-empty'), 'helm-unstuck');
    cpSync(OWN_CHART, empty, { recursive: true });
    writeFileSync(join(empty, 'files', 'helm-unstuck.rules.yml'), 'groups: []\n');
    const r = await helm.run(['template', ...KUBE, 'hu', empty, '--set', 'prometheusRule.enabled=true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('files/helm-unstuck.rules.yml has no rule groups');

    // With a rules file in place (a copy of the chart), its groups become the PrometheusRule's.
    const chart = join(tempDir('chart-rules'), 'helm-unstuck');
    cpSync(OWN_CHART, chart, { recursive: true });
    const groups = [{ name: 'helm-unstuck', rules: [{ alert: 'HelmReleaseStuck', expr: 'vector(1)', for: '5m', labels: { severity: 'page' } }] }];
    writeFileSync(join(chart, 'files', 'helm-unstuck.rules.yml'), stringify({ groups }));
    const out = await helm.ok(['template', ...KUBE, 'hu', chart, '--set', 'prometheusRule.enabled=true', '--set', 'prometheusRule.labels.release=prometheus']);
    const rule = parseAllDocuments(out).map((d) => d.toJSON() as Obj).find((o) => o?.kind === 'PrometheusRule');
    expect(rule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', metadata: { labels: { release: 'prometheus' } }, spec: { groups } });
  });

  test("Grafana dashboard: on by default, a ConfigMap with the sidecar's label holding deploy/grafana/helm-unstuck.json; off, none", async () => {
    const dashboards = (objs: Obj[]) => objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'hu-helm-unstuck-dashboard') as unknown as { metadata: { namespace: string; labels: Record<string, string>; annotations?: Record<string, string> }; data: Record<string, string> }[];
    const [cm, ...more] = dashboards(await render([]));
    expect(more).toEqual([]);
    expect(cm!.metadata).toMatchObject({ namespace: 'ops', labels: { grafana_dashboard: '1' } });
    expect(JSON.parse(cm!.data['helm-unstuck.json']!)).toEqual(JSON.parse(readFileSync(join(OWN_CHART, '..', '..', 'grafana', 'helm-unstuck.json'), 'utf8')));
    const [moved] = dashboards(await render(['grafanaDashboard.namespace=monitoring', 'grafanaDashboard.label=dashboards', 'grafanaDashboard.labelValue=helm', 'grafanaDashboard.folder=Platform']));
    expect(moved!.metadata).toMatchObject({ namespace: 'monitoring', labels: { dashboards: 'helm' }, annotations: { grafana_folder: 'Platform' } });
    expect(dashboards(await render(['grafanaDashboard.enabled=false']))).toEqual([]);
  });
});

interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  securityContext: unknown;
  containers: {
    image?: string;
    args?: string[];
    env: { name: string; value?: string }[];
    ports: unknown[];
    securityContext: unknown;
    livenessProbe: unknown;
    readinessProbe: unknown;
    resources: unknown;
    volumeMounts: { name: string; mountPath: string }[];
  }[];
  volumes: { name: string; configMap?: unknown; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
}
