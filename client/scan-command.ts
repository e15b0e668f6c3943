// `helm-unstuck scan`: stuck Helm releases in a cluster, straight from a kubeconfig (no Temporal).
import { scan } from '../activities/release';
import { Kube } from '../activities/kubernetes';
import type { StorageDriver } from '../decisions/helm';
import type { CommandIo } from './errors';
import { scanTable } from './scan-format';

export interface ScanOptions {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  driver: StorageDriver | 'all';
  output: 'table' | 'json';
}

/** Prints what it found; says whether anything is stuck (the CLI's --fail-if-stuck exit status). */
export async function scanCommand(o: ScanOptions, io: CommandIo): Promise<{ stuckFound: boolean }> {
  const kube = Kube.fromKubeconfig({ ...(o.kubeconfig ? { file: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) });
  const cluster = o.context ?? kube.kc.getCurrentContext();
  const result = await scan(
    kube,
    { cluster, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), ...(o.driver !== 'all' ? { drivers: [o.driver] } : {}) },
    Date.now(),
  );
  io.out(o.output === 'json' ? JSON.stringify(result, null, 2) + '\n' : scanTable(result));
  return { stuckFound: result.stuck.length > 0 };
}
