// `helm-unstuck exporter`: the detector alone, serving /metrics and /healthz (for a Prometheus
// that scrapes it without running the receiver and worker in the same process). `worker --listen`
// serves the same, with the worker's own metrics and health added (worker/service.ts).
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from '../lib/config';
import { bearerMatches } from '../server/webhook';
import { Detector } from './detector';
import { detectorRegistry } from './metrics';

export interface Exporter {
  url: string;
  detector: Detector;
  close(): Promise<void>;
}

export interface ExporterOptions {
  env: NodeJS.ProcessEnv;
  listen?: string;
  log: (l: string) => void;
  /** More metrics to serve after the detector's. */
  registries?: Registry[];
  /** More to say in /healthz. */
  health?: () => Record<string, unknown>;
}

export async function startExporter(o: ExporterOptions): Promise<Exporter> {
  const config = loadConfig(o.env);
  if (Object.keys(config.clusters).length === 0) throw new ConfigError(['no clusters configured (HELM_UNSTUCK_CONFIG: clusters)']);
  const listen = o.listen ?? config.server.listen;
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  if (!m) throw new ConfigError([`listen address "${listen}" must be host:port`]);
  const detector = Detector.forConfig(config, { log: o.log });
  const registry = Registry.merge([detectorRegistry(detector), ...(o.registries ?? [])]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://exporter').pathname;
    if (req.method === 'GET' && path === '/metrics') {
      // As serve's /metrics: with HELM_UNSTUCK_METRICS_TOKEN set, only that bearer may read it.
      const token = config.server.metricsToken;
      if (token && !bearerMatches(req.headers.authorization, token)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end('{"error":"a valid bearer token is required"}');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, detector: detector.status(), ...o.health?.() }));
    } else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(Number(m[2]), m[1], ok);
  });
  detector.start();
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  o.log(`exporting stuck Helm releases of ${Object.keys(config.clusters).join(', ')} at ${url}/metrics`);
  return {
    url,
    detector,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await detector.stop();
    },
  };
}
