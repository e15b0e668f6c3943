// The alert storm's load: Alertmanager webhooks of one alert each, over RELEASES releases, sent on
// keep-alive connections by a generator on a thread of its own (so it does not share the
// receiver's event loop). bench/alert-storm.ts and bench/scale.ts drive receivers with it.
import { Worker } from 'node:worker_threads';

export const STORM_RELEASES = 100;

/** The webhook body of alert `i` of a run; `run` keeps release names apart between runs. */
export function stormPayload(i: number, run: string): string {
  const r = i % STORM_RELEASES;
  const labels = { alertname: 'HelmReleaseStuck', cluster: 'gprd', namespace: `ns-${r % 10}`, label_name: `release-${run}-${r}`, label_owner: 'helm', label_status: 'pending-upgrade', label_version: '42' };
  return JSON.stringify({
    version: '4', groupKey: `{}:{release="${r}"}`, truncatedAlerts: 0, status: 'firing', receiver: 'helm-unstuck',
    groupLabels: { alertname: 'HelmReleaseStuck' }, commonLabels: labels, commonAnnotations: {}, externalURL: 'http://127.0.0.1:9093',
    alerts: [{ status: 'firing', labels, annotations: { summary: `release-${r} stuck` }, startsAt: '2026-11-24T09:41:07.123Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://127.0.0.1:9090/graph', fingerprint: (0xabc000 + r).toString(16) }],
  });
}

export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export interface StormRun {
  seconds: number;
  /** Milliseconds per request, sorted. */
  latencies: number[];
  statuses: Record<string, number>;
}

const GENERATOR = `
  const { parentPort, workerData } = require('node:worker_threads');
  (async () => {
    const { url, token, bodies, concurrency } = workerData;
    const latencies = [];
    const statuses = {};
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const t0 = process.hrtime.bigint();
        const r = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses[r.status] = (statuses[r.status] || 0) + 1;
      }
    }));
    parentPort.postMessage({ seconds: Number(process.hrtime.bigint() - started) / 1e9, latencies, statuses });
  })();`;

/** Posts every body to `url` from `concurrency` senders at once; times each request. */
export async function storm(url: string, token: string, bodies: string[], concurrency: number): Promise<StormRun> {
  const run = await new Promise<StormRun>((ok, fail) => {
    const w = new Worker(GENERATOR, { eval: true, workerData: { url, token, bodies, concurrency } });
    w.once('message', ok);
    w.once('error', fail);
  });
  return { ...run, latencies: run.latencies.sort((a, b) => a - b) };
}
