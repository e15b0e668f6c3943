// The detector's metrics, in a prom-client Registry of its own: collected from the detector's
// state at each scrape, so a series exists exactly while its release is stuck.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Detector } from './detector';

export function detectorRegistry(d: Detector): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'helm_unstuck_release_pending_since_seconds',
    help: 'Unix time the pending operation of a stuck Helm release started (Helm\'s createdAt label), one series per stuck release.',
    labelNames: ['cluster', 'namespace', 'release', 'revision', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of d.stuck()) this.set({ cluster: s.cluster, namespace: s.namespace, release: s.release, revision: String(s.revision), status: s.status }, s.sinceSeconds);
    },
  });
  const perCluster = (name: string, help: string, value: (s: ReturnType<Detector['status']>[string]) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['cluster'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [cluster, s] of Object.entries(d.status())) {
          const v = value(s);
          if (v !== undefined) this.set({ cluster }, v);
        }
      },
    });
  perCluster('helm_unstuck_detector_up', 'Whether the cluster\'s API server answered the detector\'s last request (1) or not (0).', (s) => Number(s.up));
  perCluster('helm_unstuck_detector_in_sync', 'Whether the detector has listed and is watching the cluster\'s pending Helm records (1) or not (0).', (s) => Number(s.inSync));
  perCluster('helm_unstuck_detector_last_sync_timestamp_seconds', 'Unix time the detector last confirmed its view of the cluster current.', (s) => s.lastSyncSeconds);
  new Counter({
    name: 'helm_unstuck_detector_watch_restarts_total',
    help: 'Watches restarted, by reason: expired (410 Gone: listed again) or disconnected (retried with backoff).',
    labelNames: ['cluster', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [cluster, s] of Object.entries(d.status())) for (const [reason, n] of Object.entries(s.restarts)) this.inc({ cluster, reason }, n);
    },
  });
  return registry;
}
