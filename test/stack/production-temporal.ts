// A production-shaped Temporal for stack tests, where test/stack/temporal.ts gives the dev server:
// temporal-server (tools/build) on PostgreSQL 15 from Debian, its schemas set up by the server's
// own temporal-sql-tool, SQL visibility, a namespace of helm-unstuck's own, and mTLS on the
// frontend with certificates made here. Clients reach it as an operator's would: through an
// envconfig (TOML) profile naming the address, the namespace and a client certificate.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { temporalProfile } from '../../worker/temporal';
import { freePort, removeDir, startServer, tempDir, waitUntil, type Server } from './process';
import { sharedStack } from './shared';

const run = promisify(execFile);

/** Where Debian's postgresql-15 puts its binaries (tools/system-deps installs it). */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const NAMESPACE = 'helm-unstuck';
/** The profile the worker and the CLI use: the server's address, the namespace, a client certificate. */
export const PROFILE = 'helm-unstuck';
/** The same server, trusted, but no client certificate: the frontend must refuse it. */
export const NO_CERT_PROFILE = 'no-client-cert';
const DB = { user: 'temporal', password: 'temporal-stack-test' };
const SCHEMAS = [
  { db: 'temporal', schema: 'postgresql/v12/temporal' },
  { db: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
];

export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface ProductionTemporal {
  /** host:port of the frontend (TLS, client certificate required). */
  address: string;
  /** The envconfig TOML file holding PROFILE and NO_CERT_PROFILE. */
  configFile: string;
  /** What an operator sets for the worker and the CLI: TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE. */
  env(profile?: string): NodeJS.ProcessEnv;
  /** Run the temporal CLI through a profile (PROFILE by default); resolves with its output, rejects on failure. */
  cli(args: string[], profile?: string): Promise<{ stdout: string; stderr: string }>;
  /** Register custom search attributes on NAMESPACE (idempotent: existing ones are left alone). */
  addSearchAttributes(attrs: Record<string, SearchAttributeType>): Promise<void>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  startPostgres(): Promise<void>;
  /** A fast shutdown (SIGINT): open sessions are cut, as a database failover or restart cuts them. */
  stopPostgres(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * PostgreSQL, then the schemas, then temporal-server, then the namespace (with `searchAttributes`
 * registered on it, if given, before any test file's worker starts).
 */
export async function startProductionTemporal(opts: { searchAttributes?: Record<string, SearchAttributeType> } = {}): Promise<ProductionTemporal> {
  const dir = tempDir('prod-temporal');
  const bins = sharedStack().binaries;
  const owner = await dbOwner();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const tls = await makeCertificates(join(dir, 'tls'));
  const ports = { pg: await freePort(), frontend: await freePort() };
  const address = `127.0.0.1:${ports.frontend}`;
  const configFile = writeProfiles(dir, address, tls);
  const pg = new Postgres(dir, ports.pg, owner);
  let server: Server | undefined;
  const serverConfig = await writeServerConfig(dir, ports, tls);
  const env = (profile = PROFILE): NodeJS.ProcessEnv => ({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: profile });
  const cli = (args: string[], profile = PROFILE) =>
    run(bins.temporal, args, { env: { PATH: process.env.PATH, HOME: dir, ...env(profile) }, timeout: 60_000 });
  const t: ProductionTemporal = {
    address,
    configFile,
    env,
    cli,
    async addSearchAttributes(attrs) {
      const { stdout } = await cli(['operator', 'search-attribute', 'list', '-o', 'json']);
      const have = JSON.stringify(JSON.parse(stdout));
      for (const [name, type] of Object.entries(attrs)) {
        if (have.includes(`"${name}"`)) continue;
        await cli(['operator', 'search-attribute', 'create', '--name', name, '--type', type]);
      }
    },
    async startServer() {
      server = startServer('temporal-server', bins.temporalServer, ['--root', dir, '--config', dirname(serverConfig).slice(dir.length + 1), '--env', 'production', '--allow-no-auth', 'start'], {
        logFile: join(dir, 'temporal-server.log'),
      });
      const s = server;
      await waitUntil('temporal-server', () => probe(env()), { timeoutMs: 120_000, server: s, intervalMs: 300 });
    },
    async stopServer() {
      await server?.stop(30_000);
    },
    startPostgres: () => pg.start(),
    stopPostgres: () => pg.stop(),
    async stop() {
      await server?.stop(30_000);
      await pg.stop();
      if (!process.env.HELM_UNSTUCK_KEEP_TEST_DIRS) await removeDir(dir);
    },
  };
  try {
    await pg.init();
    await pg.start();
    await setUpSchemas(join(dirname(bins.temporalServer), 'temporal-sql-tool'), ports.pg);
    await t.startServer();
    await cli(['operator', 'namespace', 'create', '--namespace', NAMESPACE, '--retention', '72h']);
    // The frontend learns of a new namespace when its namespace registry refreshes.
    await waitUntil('namespace', () => cli(['workflow', 'count']).then(() => true), { timeoutMs: 60_000, intervalMs: 500 });
    if (opts.searchAttributes) await t.addSearchAttributes(opts.searchAttributes);
  } catch (err) {
    // Stop what runs, but keep the folder: its logs say why.
    await server?.stop(5000).catch(() => undefined);
    await pg.stop().catch(() => undefined);
    throw new Error(`the production-shaped Temporal did not start (logs in ${dir}): ${(err as Error).message}`);
  }
  return t;
}

/** The frontend answers a client holding PROFILE's certificate. */
async function probe(env: NodeJS.ProcessEnv): Promise<boolean> {
  const { connectionOptions } = temporalProfile(env);
  const c = await Connection.connect({ ...connectionOptions, connectTimeout: 2000 } as never);
  try {
    await c.workflowService.getSystemInfo({});
    return true;
  } finally {
    await c.close();
  }
}

/** PostgreSQL refuses to run as root: as root (CI is), it runs as Debian's `postgres` user. */
async function dbOwner(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

class Postgres {
  private server: Server | undefined;
  private readonly data: string;
  constructor(
    private readonly dir: string,
    private readonly port: number,
    private readonly owner: { uid: number; gid: number } | undefined,
  ) {
    this.data = join(dir, 'pgdata');
  }

  /** [command, args] running `bin` as the database's owner (setpriv execs: signals reach postgres itself). */
  private as(bin: string, args: string[]): [string, string[]] {
    const path = join(PG_BIN, bin);
    if (!existsSync(path)) throw new Error(`${path} is missing: PostgreSQL 15 is not installed (run tools/system-deps)`);
    return this.owner ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', path, ...args]] : [path, args];
  }

  async init(): Promise<void> {
    const pwfile = join(this.dir, 'db-password');
    writeFileSync(pwfile, DB.password, { mode: 0o600 });
    if (this.owner) chownSync(pwfile, this.owner.uid, this.owner.gid);
    const [cmd, args] = this.as('initdb', ['-D', this.data, '-U', DB.user, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await run(cmd, args, { cwd: this.dir, timeout: 120_000 });
  }

  async start(): Promise<void> {
    const [cmd, args] = this.as('postgres', ['-D', this.data, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${this.dir}`]);
    const s = startServer('postgres', cmd, args, { logFile: join(this.dir, 'postgres.log'), cwd: this.dir });
    this.server = s;
    const [isready, readyArgs] = [join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', DB.user, '-d', 'postgres']];
    await waitUntil('postgres', () => run(isready, readyArgs).then(() => true), { timeoutMs: 60_000, server: s, intervalMs: 200 });
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s || s.exited()) return;
    process.kill(s.pid, 'SIGINT');
    await s.stop(30_000);
  }
}

/** Both databases, each at its newest schema version, as Temporal's own deployment scripts do. */
async function setUpSchemas(sqlTool: string, port: number): Promise<void> {
  const common = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(port), '-u', DB.user, '--pw', DB.password];
  for (const { db, schema } of SCHEMAS) {
    for (const step of [['create-database'], ['setup-schema', '-v', '0.0'], ['update-schema', '--schema-name', schema]]) {
      await run(sqlTool, [...common, '--db', db, ...step], { timeout: 120_000 }).catch((err: { stderr?: string }) => {
        throw new Error(`temporal-sql-tool ${step[0]} on ${db} failed: ${err.stderr ?? String(err)}`);
      });
    }
  }
}

interface Certificates {
  ca: string;
  server: { cert: string; key: string };
  /** The worker's and the CLI's. */
  client: { cert: string; key: string };
  /** temporal-server's own system worker dials the frontend too, and needs a client certificate. */
  systemWorker: { cert: string; key: string };
}

/** A CA, a server certificate for 127.0.0.1 and localhost, and client certificates, with openssl. */
async function makeCertificates(dir: string): Promise<Certificates> {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=helm-unstuck test CA']);
  const issue = async (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    await run('openssl', ['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
    return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
  };
  return {
    ca: f('ca.pem'),
    server: await issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'),
    client: await issue('client', 'helm-unstuck-worker', 'extendedKeyUsage=clientAuth\n'),
    systemWorker: await issue('system-worker', 'temporal-system-worker', 'extendedKeyUsage=clientAuth\n'),
  };
}

/** The envconfig TOML an operator would write (TEMPORAL_CONFIG_FILE). */
function writeProfiles(dir: string, address: string, tls: Certificates): string {
  const q = JSON.stringify; // a JSON string is a TOML basic string for these paths
  const file = join(dir, 'temporal.toml');
  writeFileSync(
    file,
    [
      `[profile.${PROFILE}]`,
      `address = ${q(address)}`,
      `namespace = ${q(NAMESPACE)}`,
      `[profile.${PROFILE}.tls]`,
      `server_ca_cert_path = ${q(tls.ca)}`,
      `server_name = "localhost"`,
      `client_cert_path = ${q(tls.client.cert)}`,
      `client_key_path = ${q(tls.client.key)}`,
      '',
      `[profile.${NO_CERT_PROFILE}]`,
      `address = ${q(address)}`,
      `namespace = ${q(NAMESPACE)}`,
      `[profile.${NO_CERT_PROFILE}.tls]`,
      `server_ca_cert_path = ${q(tls.ca)}`,
      `server_name = "localhost"`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * A free port for a service's membership (ringpop): the cluster_membership table stores it as a
 * smallint, so it must be below 32768, where the kernel's ephemeral range (freePort's) starts.
 */
async function membershipPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + randomInt(12_000);
    const free = await new Promise<boolean>((ok) => {
      const srv = createServer().once('error', () => ok(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 32768');
}

/**
 * temporal-server's configuration: Temporal's development-postgres12 shape (postgres12 plugin for
 * both stores, so visibility is SQL), on free ports, with mTLS required on the frontend.
 */
async function writeServerConfig(dir: string, ports: { pg: number; frontend: number }, tls: Certificates): Promise<string> {
  const rpc = async (grpcPort: number) => ({ rpc: { grpcPort, membershipPort: await membershipPort(), bindOnLocalHost: true } });
  const store = (databaseName: string, maxConns: number) => ({
    sql: { pluginName: 'postgres12', databaseName, connectAddr: `127.0.0.1:${ports.pg}`, connectProtocol: 'tcp', user: DB.user, password: DB.password, maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h' },
  });
  const dynamicConfig = join(dir, 'dynamicconfig.yaml');
  // Search attributes a test registers are usable at once (as on the dev server), not after the cache's refresh.
  writeFileSync(dynamicConfig, stringify({ 'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }] }));
  const frontend = await rpc(ports.frontend);
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: { defaultStore: 'default', visibilityStore: 'visibility', numHistoryShards: 4, datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 5) } },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${await freePort()}` } },
      tls: {
        frontend: { server: { certFile: tls.server.cert, keyFile: tls.server.key, clientCaFiles: [tls.ca], requireClientAuth: true } },
        systemWorker: { certFile: tls.systemWorker.cert, keyFile: tls.systemWorker.key, client: { serverName: 'localhost', rootCaFiles: [tls.ca] } },
      },
    },
    services: {
      frontend: { rpc: { ...frontend.rpc, httpPort: await freePort() } },
      history: await rpc(await freePort()),
      matching: await rpc(await freePort()),
      worker: await rpc(await freePort()),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
  };
  const file = join(dir, 'config', 'production.yaml');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, stringify(config));
  return file;
}
