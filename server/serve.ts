// `helm-unstuck serve`: the webhook receiver, the approval page, the API and /metrics, with the
// worker, the detector and the admission probe in the same process unless --no-worker. Then serve
// holds no cluster client at all (the chart's serve Deployment has no credentials): `helm-unstuck
// worker --listen` runs those, and the scan after a truncated alert group, where the credentials are.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { AdmissionMonitor, ClusterAdmission } from '../activities/admission';
import { Registry } from 'prom-client';
import { Client, Connection } from '@temporalio/client';
import { connectClient } from '../client/connect';
import { publicKeyOf } from '../decisions/decision-proof';
import { ConfigError, loadConfig, type Config, type ServerSettings } from '../lib/config';
import { probeAdmission, type ProbedAdmission } from '../worker/service';
import { startWorker, type RunningWorker } from '../worker/worker';
import { Detector } from '../detector/detector';
import { detectorRegistry } from '../detector/metrics';
import { api } from './api';
import { approvalPage } from './approval-page';
import { decisionSender } from './decide';
import { AlertForwarder } from './forwarder';
import { guardConnections, type GuardDeps } from './connection-guard';
import { createApp } from './http';
import { createMetrics, outcomeSink, type Metrics } from './metrics';
import { LoginLimiter } from './rate-limit';
import { ssoVerifier } from './sso';
import { temporalScanner } from './truncation-scan';

export interface Serving {
  url: string;
  config: Config;
  metrics: Metrics;
  client: Client;
  worker?: RunningWorker;
  detector?: Detector;
  /** With the worker in this process only: without it, serve holds no cluster client. */
  admission?: AdmissionMonitor;
  /** The start-up probe of every cluster's admission policy, once answered (or failed). */
  admissionProbed?: Promise<Record<string, ClusterAdmission>>;
  close(): Promise<void>;
}

export interface ServeOptions {
  env?: NodeJS.ProcessEnv;
  withWorker?: boolean;
  /** Watch the configured clusters for stuck releases and export them in /metrics (default on; never without the worker). */
  withDetector?: boolean;
  log?: (line: string) => void;
}

/**
 * serve's HTTP server, listening: the app behind Node's limits. A slow or idle client cannot hold
 * a connection for ever (slowloris): headers, the whole request and an idle keep-alive each have a
 * timeout, checked every connectionsCheckingInterval (often enough for the shortest). The connection
 * guard (./connection-guard.ts) enforces maxConnections and the per-client limit, shedding idle
 * unauthenticated connections first, so a tokenless flood cannot crowd Alertmanager out; with
 * `guard`, what it sheds is counted in that registry and logged, and every 4xx is logged.
 */
export async function listenHttp(fetch: (req: Request) => Response | Promise<Response>, o: ServerSettings, guard: GuardDeps = { registry: new Registry(), log: () => undefined }): Promise<Server> {
  const server = createAdaptorServer({
    fetch,
    serverOptions: { headersTimeout: o.headersTimeoutMs, requestTimeout: o.requestTimeoutMs, keepAliveTimeout: o.keepAliveTimeoutMs, connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs) },
  }) as Server;
  guardConnections(server, o, guard);
  const [host, port] = [o.listen.slice(0, o.listen.lastIndexOf(':')), Number(o.listen.split(':').pop())];
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  return server;
}

/**
 * What serve cannot start with: people deciding (users or single sign-on) need serve's decision
 * key, and the workflow must trust that key, or every decision serve signs would be refused.
 */
export function decisionKeyProblems(config: Pick<Config, 'users' | 'sso' | 'decisionKey' | 'decisionKeys'>): string[] {
  const deciding = Object.keys(config.users).length > 0 || config.sso !== undefined;
  if (!config.decisionKey) {
    return deciding ? ['HELM_UNSTUCK_DECISION_KEY (or _FILE) is required with users or sso: serve signs every decision it sends (helm-unstuck keygen makes one)'] : [];
  }
  const pub = publicKeyOf(config.decisionKey);
  return config.decisionKeys.includes(pub) ? [] : [`decisionKeys does not list ${pub}, the public key of HELM_UNSTUCK_DECISION_KEY: the workflow would refuse every decision serve signs`];
}

/** The configuration serve runs on, or a ConfigError listing everything it cannot start with. */
function serveConfig(env: NodeJS.ProcessEnv): Config {
  const config = loadConfig(env);
  const problems = decisionKeyProblems(config);
  if (!config.server.webhookToken) problems.push('HELM_UNSTUCK_WEBHOOK_TOKEN (or _FILE) is required: the webhook is never served unauthenticated');
  if (Object.keys(config.clusters).length === 0) problems.push('no clusters configured (HELM_UNSTUCK_CONFIG: clusters)');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What serve reaches Temporal (and, in one process, the clusters) through. */
interface Backend {
  client: Client;
  worker?: RunningWorker;
  probe?: ProbedAdmission;
  close(): Promise<void>;
}

/** The worker and the admission probe in this process (a laptop), or only a Temporal client (no cluster client). */
async function startBackend(env: NodeJS.ProcessEnv, config: Config, metrics: Metrics, log: (l: string) => void, withWorker: boolean): Promise<Backend> {
  if (!withWorker) return connectClient(env);
  const probe = probeAdmission(config, metrics, log);
  let worker: RunningWorker;
  try {
    worker = await startWorker({ env: { ...env, HELM_UNSTUCK_TASK_QUEUE: config.taskQueue }, config, admission: probe.admission, outcomes: outcomeSink(metrics), log });
  } catch (err) {
    probe.stop();
    throw err;
  }
  const connection = await Connection.connect({ ...worker.target.connectionOptions } as never);
  const close = async () => {
    probe.stop();
    await connection.close();
    await worker.shutdown();
  };
  return { client: new Client({ connection, namespace: worker.target.namespace }), worker, probe, close };
}

/** The approval page and the API, served when people can sign in: users (tokens) or SSO. */
function peopleRoutes(config: Config, client: Client, log: (l: string) => void) {
  const send = config.decisionKey ? decisionSender(client, config.decisionKey) : undefined;
  if (!send) return {};
  const sso = config.sso ? ssoVerifier(config.sso, log) : undefined;
  const people = { client, send, users: config.users, limiter: new LoginLimiter(config.server.loginLimit), ...(sso ? { sso } : {}) };
  const page = approvalPage({ ...people, clusters: config.clusters, ...(config.sessionSecret ? { secret: config.sessionSecret } : {}), insecureCookies: config.server.insecureCookies });
  return { approvalPage: page, api: api(people) };
}

export async function serve(opts: ServeOptions = {}): Promise<Serving> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => console.error(`helm-unstuck: ${l}`));
  const config = serveConfig(env);
  const metrics = createMetrics();
  const withWorker = opts.withWorker ?? true;
  const detector = withWorker && (opts.withDetector ?? true) ? Detector.forConfig(config, { log }) : undefined;
  const backend = await startBackend(env, config, metrics, log, withWorker);
  const { client, worker, probe } = backend;
  const scans = new AbortController();
  const forwarder = new AlertForwarder(client, config, metrics, { scan: temporalScanner(client, config.taskQueue, scans.signal), log });
  const app = createApp({
    config,
    forwarder,
    metrics,
    log,
    ...peopleRoutes(config, client, log),
    ...(config.server.metricsToken ? { metricsToken: config.server.metricsToken } : {}),
    ...(detector ? { detector: { registry: detectorRegistry(detector), status: () => detector.status() } } : {}),
    ...(probe ? { admission: probe.admission } : {}),
  });
  const server = await listenHttp(app.fetch, config.server, { registry: metrics.registry, log });
  detector?.start();
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  log(`serving the Alertmanager webhook at ${url}/webhook/alertmanager and metrics at ${url}/metrics`);
  const close = async () => {
    await detector?.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    // A truncation scan under way forwards through the client: stop waiting on the worker, then let it finish.
    scans.abort();
    await forwarder.idle();
    await backend.close();
  };
  return { url, config, metrics, client, ...(worker ? { worker } : {}), ...(detector ? { detector } : {}), ...(probe ? { admission: probe.admission, admissionProbed: probe.probed } : {}), close };
}
