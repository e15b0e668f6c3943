// `helm-unstuck scan`: stuck Helm releases in a cluster, or in every cluster of the fleet,
// straight from a kubeconfig (no Temporal).
import pLimit from 'p-limit';
import { scan } from '../activities/release';
import { Kube, KubeUnavailableError, kubeconfigContexts } from '../activities/kubernetes';
import { validateNamespace, type StorageDriver } from '../decisions/helm';
import { loadConfig } from '../lib/config';
import { CommandError, type CommandIo } from './errors';
import { fleetTable, scanTable, type FleetEntry } from './scan-format';

export interface ScanOptions {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  driver: StorageDriver | 'all';
  output: 'table' | 'json';
  /** Every context of the kubeconfig, one table with a cluster column. */
  allContexts?: boolean;
  /** Every cluster configured in HELM_UNSTUCK_CONFIG (its kubeconfig and contexts). */
  allClusters?: boolean;
  /** How long one cluster of a fleet scan may take before its row says so. */
  clusterTimeoutMs?: number;
}

export interface ScanOutcome {
  stuckFound: boolean;
  /** Clusters of a fleet scan that could not be scanned (listed in the output). */
  failedClusters: number;
}

/** Prints what it found; says whether anything is stuck (the CLI's --fail-if-stuck exit status). */
export async function scanCommand(o: ScanOptions, io: CommandIo): Promise<ScanOutcome> {
  if (o.allContexts || o.allClusters) return fleetScanCommand(o, io);
  const kube = Kube.fromKubeconfig({ ...(o.kubeconfig ? { file: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) });
  const cluster = o.context ?? kube.kc.getCurrentContext();
  const result = await scan(kube, scanInput(cluster, o), Date.now());
  io.out(o.output === 'json' ? JSON.stringify(result, null, 2) + '\n' : scanTable(result));
  return { stuckFound: result.stuck.length > 0, failedClusters: 0 };
}

const scanInput = (cluster: string, o: ScanOptions) => ({
  cluster,
  ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
  ...(o.driver !== 'all' ? { drivers: [o.driver] } : {}),
});

/** Which clusters a fleet scan covers: cluster name → kubeconfig context, and the kubeconfig. */
function fleetOf(o: ScanOptions, io: CommandIo): { kubeconfig?: string; contexts: [string, string][] } {
  if (o.allClusters) {
    const config = loadConfig(io.env);
    const contexts = Object.entries(config.clusters).map(([name, c]): [string, string] => [name, c.context ?? name]);
    if (contexts.length === 0) throw new CommandError('no clusters configured (HELM_UNSTUCK_CONFIG: clusters)');
    const kubeconfig = o.kubeconfig ?? config.kubeconfig;
    return { ...(kubeconfig ? { kubeconfig } : {}), contexts };
  }
  const contexts = kubeconfigContexts(o.kubeconfig).map((c): [string, string] => [c, c]);
  if (contexts.length === 0) throw new CommandError(`kubeconfig ${o.kubeconfig ?? '(default)'} has no contexts`);
  return { ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), contexts };
}

/** Why a cluster could not be scanned: a connection failure by its errno, anything else as said. */
function whyNot(err: Error, server: string): { error: string; detail?: string } {
  if (err instanceof KubeUnavailableError && err.status === 0 && err.reason) return { error: `cannot reach ${server}: ${err.reason}`, detail: err.message };
  return { error: err.message };
}

/**
 * Scans every cluster at once (four at a time), each on its own deadline: a cluster that is
 * unreachable, refuses us or does not answer in time becomes a row saying why, never a failed table.
 */
async function fleetScanCommand(o: ScanOptions, io: CommandIo): Promise<ScanOutcome> {
  // Bad input is one error, not a row per cluster.
  const bad = o.namespace !== undefined ? validateNamespace(o.namespace) : undefined;
  if (bad) throw new CommandError(bad);
  const { kubeconfig, contexts } = fleetOf(o, io);
  const timeoutMs = o.clusterTimeoutMs ?? 30_000;
  const now = Date.now();
  const entries = await pLimit(4).map(contexts, async ([cluster, context]): Promise<FleetEntry> => {
    let timer: NodeJS.Timeout | undefined;
    let server = '';
    try {
      const kube = Kube.fromKubeconfig({ ...(kubeconfig ? { file: kubeconfig } : {}), context });
      server = kube.server;
      const late = new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer from ${kube.server} in ${timeoutMs / 1000} s`)), timeoutMs);
      });
      return { cluster, result: await Promise.race([scan(kube, scanInput(cluster, o), now), late]) };
    } catch (err) {
      return { cluster, ...whyNot(err as Error, server) };
    } finally {
      clearTimeout(timer);
    }
  });
  io.out(o.output === 'json' ? JSON.stringify({ clusters: entries }, null, 2) + '\n' : fleetTable(entries));
  return {
    stuckFound: entries.some((e) => 'result' in e && e.result.stuck.length > 0),
    failedClusters: entries.filter((e) => 'error' in e).length,
  };
}
