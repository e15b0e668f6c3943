// A control plane of the bench's own (not shared with tests), reached through a byte counter.
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, writeKubeconfig, type ControlPlane } from '../../test/stack/control-plane';
import { binaries, removeDir, tempDir, type Binaries } from '../../test/stack/process';
import { startByteCounter, type ByteCounter } from './byte-counter';

export interface BenchStack {
  cp: ControlPlane;
  bins: Binaries;
  counter: ByteCounter;
  /** A kubeconfig whose server is the byte counter. */
  kubeconfig: string;
  kc: k8s.KubeConfig;
  dir: string;
  stop(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const bins = await binaries();
  const dir = tempDir('bench');
  const cp = await startControlPlane({ etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver, dir: join(dir, 'kube') });
  const port = Number(new URL(cp.server).port);
  const counter = await startByteCounter('127.0.0.1', port);
  const kubeconfig = join(dir, 'kubeconfig-counted');
  writeKubeconfig(kubeconfig, { server: `https://127.0.0.1:${counter.port}`, caFile: cp.caFile, token: cp.adminToken, context: 'bench' });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  return {
    cp,
    bins,
    counter,
    kubeconfig,
    kc,
    dir,
    async stop() {
      await counter.close();
      await cp.stop();
      await removeDir(dir);
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
