// etcd + kube-apiserver on loopback, RBAC on, as envtest runs them. No controllers, no kubelet:
// Deployments never become ready, which is exactly what makes `helm upgrade --wait` hang.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort, removeDir, startServer, tempDir, waitUntil, type Server } from './process';

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** A kubeconfig with one context, `admin` (system:masters), for tests and helm. */
  kubeconfig: string;
  /** The PEM bundle that verifies the API server's certificate. */
  caFile: string;
  adminToken: string;
  /** The version string the API server reports (/version gitVersion). */
  version: string;
  dir: string;
  /** Stop kube-apiserver and start it again on the same port and etcd (its watch cache starts afresh). */
  restartApiServer(): Promise<void>;
  /** The running kube-apiserver's pid, to freeze it (SIGSTOP) and thaw it (SIGCONT). */
  apiServerPid(): number;
  /** SIGKILL kube-apiserver (no graceful shutdown); `startApiServer` brings it back on the same port and etcd. */
  killApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** With `audit`: the API server's JSON audit log (Secret/ConfigMap writes, see AUDIT_POLICY). */
  auditLog?: string;
  stop(): Promise<void>;
}

/** A kubeconfig with one context, authenticating with a bearer token. JSON is YAML. */
export function writeKubeconfig(file: string, o: { server: string; caFile: string; token: string; context: string }): void {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: o.context, cluster: { server: o.server, 'certificate-authority': o.caFile } }],
      users: [{ name: 'admin', user: { token: o.token } }],
      contexts: [{ name: o.context, context: { cluster: o.context, user: 'admin' } }],
      'current-context': o.context,
    }),
    { mode: 0o600 },
  );
}

export interface ControlPlaneOptions {
  etcdBin: string;
  apiserverBin: string;
  /** Where to keep data, certificates and logs; a temp folder by default. */
  dir?: string;
  /** Write an audit log of every Secret and ConfigMap write (off by default: only the chaos matrix counts them). */
  audit?: boolean;
}

/**
 * Every create, update, patch and delete of a Secret or ConfigMap (Helm's records and our
 * backups), at Metadata level: who, what, which object and the response code, never a payload.
 */
export const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'Metadata', verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'], resources: [{ group: '', resources: ['secrets', 'configmaps'] }] },
    { level: 'None' },
  ],
};

/** A raw HTTPS call to the API server, for probing the harness itself. */
export function apiRequest(
  url: string,
  token: string,
  ca: Buffer,
  opts: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const req = request(url, { method: opts.method ?? 'GET', headers, ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}
/**
 * One raw API call as the identity `token` holds, answering its status and the API server's
 * message (its Status `message`, or the first 200 characters of another body).
 */
export async function callAs(server: string, ca: Buffer, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; message: string }> {
  const r = await apiRequest(`${server}${path}`, token, ca, { method, ...(body !== undefined ? { body } : {}) });
  let message = '';
  try {
    message = (JSON.parse(r.body) as { message?: string }).message ?? '';
  } catch {
    message = r.body.slice(0, 200);
  }
  return { status: r.status, message };
}

const get = (url: string, token: string, ca: Buffer) => apiRequest(url, token, ca);

/** A token for a ServiceAccount, from the TokenRequest API (as `kubectl create token` does). */
export async function serviceAccountToken(
  cp: Pick<ControlPlane, 'server' | 'caFile' | 'adminToken'>,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<string> {
  const r = await apiRequest(`${cp.server}/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, cp.adminToken, readFileSync(cp.caFile), {
    method: 'POST',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
  });
  if (r.status !== 201) throw new Error(`TokenRequest for ${namespace}/${name}: HTTP ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { status: { token: string } }).status.token;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const dir = opts.dir ?? tempDir('kube');
  // Before any server's log is opened in it: etcd creates it too (its data dir's parent), but
  // only once it runs, and a log opened first failed with ENOENT (a CI run's global setup did).
  mkdirSync(dir, { recursive: true });
  const servers: Server[] = [];
  const stop = async () => {
    for (const s of servers.reverse()) await s.stop();
    if (!opts.dir) await removeDir(dir);
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startServer(
      'etcd',
      opts.etcdBin,
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { logFile: join(dir, 'etcd.log') },
    );
    servers.push(etcd);

    // The service-account key pair: the API server signs TokenRequest tokens with the private
    // key and verifies them with the public one, so tests can act as a ServiceAccount.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const adminToken = randomBytes(24).toString('hex');
    const tokens = join(dir, 'tokens.csv');
    writeFileSync(tokens, `${adminToken},admin,1,"system:masters"\n`, { mode: 0o600 });
    const certDir = join(dir, 'certs');

    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${certDir}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--authorization-mode=RBAC',
      `--token-auth-file=${tokens}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--v=0',
    ];
    const auditLog = opts.audit ? join(dir, 'audit.log') : undefined;
    if (auditLog) {
      const policy = join(dir, 'audit-policy.json');
      writeFileSync(policy, JSON.stringify(AUDIT_POLICY));
      apiArgs.push(`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json', '--audit-log-mode=blocking', '--audit-log-maxsize=0');
    }
    const server = `https://127.0.0.1:${apiPort}`;
    // The API server writes a self-signed serving certificate (and its CA) into --cert-dir.
    const caFile = join(certDir, 'apiserver.crt');
    const startApi = async () => {
      const api = startServer('kube-apiserver', opts.apiserverBin, apiArgs, { logFile: join(dir, 'kube-apiserver.log') });
      servers.push(api);
      await waitUntil(
        'kube-apiserver /readyz',
        async () => existsSync(caFile) && (await get(`${server}/readyz`, adminToken, readFileSync(caFile))).status === 200,
        { timeoutMs: 60_000, server: api, intervalMs: 200 },
      );
      return api;
    };
    let api = await startApi();
    let down = false;
    const restartApiServer = async () => {
      await api.stop();
      servers.splice(servers.indexOf(api), 1);
      api = await startApi();
    };
    const killApiServer = async () => {
      process.kill(api.pid, 'SIGKILL');
      await api.stop();
      servers.splice(servers.indexOf(api), 1);
      down = true;
    };
    const startApiServer = async () => {
      if (!down) throw new Error('kube-apiserver is running');
      api = await startApi();
      down = false;
    };
    const version = (JSON.parse((await get(`${server}/version`, adminToken, readFileSync(caFile))).body) as {
      gitVersion: string;
    }).gitVersion;

    const kubeconfig = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, { server, caFile, token: adminToken, context: 'admin' });
    return {
      server,
      kubeconfig,
      caFile,
      adminToken,
      version,
      dir,
      restartApiServer,
      apiServerPid: () => api.pid,
      killApiServer,
      startApiServer,
      ...(auditLog ? { auditLog } : {}),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
