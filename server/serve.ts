// `helm-unstuck serve`: the webhook receiver and /metrics, with the worker in the same process
// unless --no-worker (then run `helm-unstuck worker` separately).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Registry } from 'prom-client';
import { ADMISSION_GAUGE, ADMISSION_REPROBE_MS, AdmissionMonitor, type ClusterAdmission } from '../activities/admission';
import { clusterRegistry } from '../activities/clusters';
import { Client, Connection } from '@temporalio/client';
import { connectClient } from '../client/connect';
import { publicKeyOf } from '../decisions/decision-proof';
import { ConfigError, loadConfig, type Config, type ServerSettings } from '../lib/config';
import { clustersOf, startWorker, type RunningWorker } from '../worker/worker';
import { Detector } from '../detector/detector';
import { detectorRegistry } from '../detector/metrics';
import { api } from './api';
import { approvalPage } from './approval-page';
import { decisionSender } from './decide';
import { AlertForwarder, clusterScanner } from './forwarder';
import { guardConnections, type GuardDeps } from './connection-guard';
import { createApp } from './http';
import { createMetrics, outcomeSink, type Metrics } from './metrics';
import { LoginLimiter } from './rate-limit';
import { ssoVerifier } from './sso';

export interface Serving {
  url: string;
  config: Config;
  metrics: Metrics;
  client: Client;
  worker?: RunningWorker;
  detector?: Detector;
  admission: AdmissionMonitor;
  /** The start-up probe of every cluster's admission policy, once answered (or failed). */
  admissionProbed: Promise<Record<string, ClusterAdmission>>;
  close(): Promise<void>;
}

export interface ServeOptions {
  env?: NodeJS.ProcessEnv;
  withWorker?: boolean;
  /** Watch the configured clusters for stuck releases and export them in /metrics (default on). */
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

export async function serve(opts: ServeOptions = {}): Promise<Serving> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => console.error(`helm-unstuck: ${l}`));
  const config = loadConfig(env);
  const problems = decisionKeyProblems(config);
  if (!config.server.webhookToken) problems.push('HELM_UNSTUCK_WEBHOOK_TOKEN (or _FILE) is required: the webhook is never served unauthenticated');
  if (Object.keys(config.clusters).length === 0) problems.push('no clusters configured (HELM_UNSTUCK_CONFIG: clusters)');
  if (problems.length > 0) throw new ConfigError(problems);
  const metrics = createMetrics();
  const contexts = Object.fromEntries(Object.entries(config.clusters).map(([name, c]) => [name, { context: c.context ?? name, ...(c.namespaces ? { namespaces: c.namespaces } : {}) }]));
  const detector = (opts.withDetector ?? true) ? Detector.forClusters(config.kubeconfig, contexts, { log }) : undefined;
  for (const cluster of Object.keys(config.clusters)) metrics.admissionPolicyEnforced.set({ cluster }, ADMISSION_GAUGE.unknown);
  const admission = new AdmissionMonitor(clusterRegistry(clustersOf(config)), config.clusters, {
    onProbe: (cluster, c) => metrics.admissionPolicyEnforced.set({ cluster }, ADMISSION_GAUGE[c.state]),
  });

  let worker: RunningWorker | undefined;
  let client: Client;
  let closeClient: () => Promise<void>;
  if (opts.withWorker ?? true) {
    worker = await startWorker({
      env: { ...env, HELM_UNSTUCK_TASK_QUEUE: config.taskQueue },
      config,
      admission,
      outcomes: outcomeSink(metrics),
      log,
    });
    const connection = await Connection.connect({ ...worker.target.connectionOptions } as never);
    client = new Client({ connection, namespace: worker.target.namespace });
    closeClient = () => connection.close();
  } else {
    ({ client, close: closeClient } = await connectClient(env));
  }
  const forwarder = new AlertForwarder(client, config, metrics, { scan: clusterScanner(config), log });
  // The approval page and the API are served when people can sign in: users (tokens) or SSO.
  const limiter = new LoginLimiter(config.server.loginLimit);
  const sso = config.sso ? ssoVerifier(config.sso, log) : undefined;
  const send = config.decisionKey ? decisionSender(client, config.decisionKey) : undefined;
  const people = send ? { client, send, users: config.users, limiter, ...(sso ? { sso } : {}) } : undefined;
  const page = people
    ? approvalPage({ ...people, clusters: config.clusters, ...(config.sessionSecret ? { secret: config.sessionSecret } : {}), insecureCookies: config.server.insecureCookies })
    : undefined;
  const app = createApp({
    config,
    forwarder,
    metrics,
    log,
    ...(page && people ? { approvalPage: page, api: api(people) } : {}),
    ...(config.server.metricsToken ? { metricsToken: config.server.metricsToken } : {}),
    ...(detector ? { detector: { registry: detectorRegistry(detector), status: () => detector.status() } } : {}),
    admission,
  });
  const server = await listenHttp(app.fetch, config.server, { registry: metrics.registry, log });
  detector?.start();
  // Not waited for: a frozen cluster must not hold up the webhook. Unlocks probe again when they act.
  const admissionProbed = admission.probeAll(log);
  const reprobe = setInterval(() => void admission.probeAll(), ADMISSION_REPROBE_MS).unref();
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  log(`serving the Alertmanager webhook at ${url}/webhook/alertmanager and metrics at ${url}/metrics`);
  return {
    url,
    config,
    metrics,
    client,
    ...(worker ? { worker } : {}),
    ...(detector ? { detector } : {}),
    admission,
    admissionProbed,
    async close() {
      clearInterval(reprobe);
      await detector?.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      // A truncation scan under way forwards through the client: let it finish first.
      await forwarder.idle();
      await closeClient();
      await worker?.shutdown();
    },
  };
}
