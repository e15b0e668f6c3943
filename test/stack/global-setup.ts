// Starts the control plane shared by every stack test file in this jest run, and publishes
// where it is through the environment (jest's workers are forked after this and inherit it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from './control-plane';
import { binaries, tempDir } from './process';
import { STACK_ENV, type SharedStack } from './shared';

export default async function globalSetup(): Promise<void> {
  const bins = await binaries();
  const dir = tempDir('run');
  const cp = await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube') });
  const shared: SharedStack = {
    kubeconfig: cp.kubeconfig,
    server: cp.server,
    caFile: cp.caFile,
    adminToken: cp.adminToken,
    kubeVersion: cp.version,
    dir,
    binaries: bins,
  };
  const file = join(dir, 'stack.json');
  writeFileSync(file, JSON.stringify(shared));
  process.env[STACK_ENV] = file;
  (globalThis as { __helmUnstuckStop?: () => Promise<void> }).__helmUnstuckStop = async () => {
    await cp.stop();
  };
}
