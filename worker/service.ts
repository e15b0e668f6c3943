// `helm-unstuck worker --listen`: the worker as the chart's worker Deployment runs it, the only
// process there holding cluster credentials: the Temporal worker (incidents, and the scan after a
// truncated alert group), the detector, and the admission policy's probe, with one /metrics and
// /healthz for all three (the detector's series, the admission gauge, incident outcomes).
import { AdmissionMonitor, ADMISSION_GAUGE, ADMISSION_REPROBE_MS, type ClusterAdmission } from '../activities/admission';
import { clusterRegistry } from '../activities/clusters';
import { startExporter, type Exporter } from '../detector/exporter';
import { loadConfig, type Config } from '../lib/config';
import { createMetrics, outcomeSink, type Metrics } from '../server/metrics';
import { clustersOf, startWorker, type RunningWorker } from './worker';

/** The admission policy's probe of every configured cluster, exported as its gauge. */
export interface ProbedAdmission {
  admission: AdmissionMonitor;
  /** The start-up probe of every cluster, once answered (or failed). */
  probed: Promise<Record<string, ClusterAdmission>>;
  stop(): void;
}

/**
 * Probe at start and each ADMISSION_REPROBE_MS, not waited for: a frozen cluster must not hold up
 * the start. Unlocks probe again when they act.
 */
export function probeAdmission(config: Pick<Config, 'clusters' | 'kubeconfig'>, metrics: Metrics, log: (line: string) => void): ProbedAdmission {
  for (const cluster of Object.keys(config.clusters)) metrics.admissionPolicyEnforced.set({ cluster }, ADMISSION_GAUGE.unknown);
  const admission = new AdmissionMonitor(clusterRegistry(clustersOf(config)), config.clusters, {
    onProbe: (cluster, c) => metrics.admissionPolicyEnforced.set({ cluster }, ADMISSION_GAUGE[c.state]),
  });
  const probed = admission.probeAll(log);
  const reprobe = setInterval(() => void admission.probeAll(), ADMISSION_REPROBE_MS).unref();
  return { admission, probed, stop: () => clearInterval(reprobe) };
}

export interface WorkerService {
  url: string;
  worker: RunningWorker;
  exporter: Exporter;
  metrics: Metrics;
  admission: AdmissionMonitor;
  admissionProbed: Promise<Record<string, ClusterAdmission>>;
  close(): Promise<void>;
}

export interface WorkerServiceOptions {
  env: NodeJS.ProcessEnv;
  /** host:port for /metrics and /healthz (default: the configuration's server.listen). */
  listen?: string;
  /** A kubeconfig file that wins over the configuration's (`worker --kubeconfig`). */
  kubeconfig?: string;
  log: (line: string) => void;
}

export async function startWorkerService(o: WorkerServiceOptions): Promise<WorkerService> {
  const env = o.kubeconfig ? { ...o.env, KUBECONFIG: o.kubeconfig } : o.env;
  const config = loadConfig(env);
  const metrics = createMetrics();
  const probe = probeAdmission(config, metrics, o.log);
  const worker = await startWorker({ env, config, admission: probe.admission, outcomes: outcomeSink(metrics), log: o.log });
  let exporter: Exporter;
  try {
    exporter = await startExporter({ env, ...(o.listen ? { listen: o.listen } : {}), log: o.log, registries: [metrics.registry], health: () => ({ admissionPolicy: probe.admission.status() }) });
  } catch (err) {
    probe.stop();
    await worker.shutdown();
    throw err;
  }
  return {
    url: exporter.url,
    worker,
    exporter,
    metrics,
    admission: probe.admission,
    admissionProbed: probe.probed,
    async close() {
      probe.stop();
      await exporter.close();
      await worker.shutdown();
    },
  };
}
