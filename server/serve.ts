// `helm-unstuck serve`: the webhook receiver and /metrics, with the worker in the same process
// unless --no-worker (then run `helm-unstuck worker` separately).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { connectClient } from '../client/connect';
import { ConfigError, loadConfig, type Config } from '../lib/config';
import { startWorker, type RunningWorker } from '../worker/worker';
import { Detector } from '../detector/detector';
import { detectorRegistry } from '../detector/metrics';
import { approvalPage } from './approval-page';
import { AlertForwarder, clusterScanner } from './forwarder';
import { createApp } from './http';
import { createMetrics, type Metrics } from './metrics';

export interface Serving {
  url: string;
  config: Config;
  metrics: Metrics;
  client: Client;
  worker?: RunningWorker;
  detector?: Detector;
  close(): Promise<void>;
}

export interface ServeOptions {
  env?: NodeJS.ProcessEnv;
  withWorker?: boolean;
  /** Watch the configured clusters for stuck releases and export them in /metrics (default on). */
  withDetector?: boolean;
  log?: (line: string) => void;
}

export async function serve(opts: ServeOptions = {}): Promise<Serving> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => console.error(`helm-unstuck: ${l}`));
  const config = loadConfig(env);
  if (!config.server.webhookToken) throw new ConfigError(['HELM_UNSTUCK_WEBHOOK_TOKEN (or _FILE) is required: the webhook is never served unauthenticated']);
  if (Object.keys(config.clusters).length === 0) throw new ConfigError(['no clusters configured (HELM_UNSTUCK_CONFIG: clusters)']);
  const metrics = createMetrics();
  const contexts = Object.fromEntries(Object.entries(config.clusters).map(([name, c]) => [name, c.context ?? name]));
  const detector = (opts.withDetector ?? true) ? Detector.forClusters(config.kubeconfig, contexts, { log }) : undefined;

  let worker: RunningWorker | undefined;
  let client: Client;
  let closeClient: () => Promise<void>;
  if (opts.withWorker ?? true) {
    worker = await startWorker({
      env: { ...env, HELM_UNSTUCK_TASK_QUEUE: config.taskQueue },
      config,
      outcomes: {
        incident: (outcome) => metrics.incidents.inc({ outcome }),
        step: (step, seconds) => metrics.stepSeconds.observe({ step }, seconds),
      },
      log,
    });
    const connection = await Connection.connect({ ...worker.target.connectionOptions } as never);
    client = new Client({ connection, namespace: worker.target.namespace });
    closeClient = () => connection.close();
  } else {
    ({ client, close: closeClient } = await connectClient(env));
  }
  const forwarder = new AlertForwarder(client, config, metrics, { scan: clusterScanner(config), log });
  // The approval page is served when users are configured to log in to it.
  const page = Object.keys(config.users).length > 0
    ? approvalPage({ client, users: config.users, ...(config.sessionSecret ? { secret: config.sessionSecret } : {}), secureCookie: env.HELM_UNSTUCK_SECURE_COOKIE === '1' })
    : undefined;
  const app = createApp({
    config,
    forwarder,
    metrics,
    log,
    ...(page ? { approvalPage: page } : {}),
    ...(detector ? { detector: { registry: detectorRegistry(detector), status: () => detector.status() } } : {}),
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const [host, port] = [config.server.listen.slice(0, config.server.listen.lastIndexOf(':')), Number(config.server.listen.split(':').pop())];
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  detector?.start();
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
    async close() {
      await detector?.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await closeClient();
      await worker?.shutdown();
    },
  };
}
