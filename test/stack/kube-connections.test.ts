// How many TLS connections helm-unstuck opens to an API server: one pool per cluster, reused.
// client-node alone opens one per request (a handshake each, and under 100 incidents dozens of
// sockets and TLS contexts waiting for the garbage collector).
import { join } from 'node:path';
import { createConnection, createServer, type Server } from 'node:net';
import { Kube } from '../../activities/kubernetes';
import { writeKubeconfig } from './control-plane';
import { sharedStack } from './shared';

/** A TCP relay in front of the API server that counts the connections made through it. */
async function connectionCounter(target: URL): Promise<{ port: number; opened(): number; mostAtOnce(): number; close(): Promise<void> }> {
  let opened = 0;
  let open = 0;
  let most = 0;
  const server: Server = createServer((client) => {
    opened++;
    most = Math.max(most, ++open);
    client.once('close', () => open--);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.pipe(upstream).pipe(client);
    const end = () => (client.destroy(), upstream.destroy());
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { port, opened: () => opened, mostAtOnce: () => most, close: () => new Promise((r) => (server.close(() => r()), server.emit('close'))) };
}

test('requests to one cluster share a pool of kept-alive connections', async () => {
  const stack = sharedStack();
  const counter = await connectionCounter(new URL(stack.server));
  try {
    const file = join(stack.dir, `counted-${process.pid}.kubeconfig`);
    writeKubeconfig(file, { server: `https://127.0.0.1:${counter.port}`, caFile: stack.caFile, token: stack.adminToken, context: 'counted' });
    const kube = Kube.fromKubeconfig({ file });
    for (let i = 0; i < 20; i++) await kube.listRecords('Secret', 'default', 'owner=helm', { metadataOnly: true });
    expect(counter.opened()).toBe(1);
    // Many at once: never more connections open than the pool allows (32), whatever the burst.
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 100 }, () => kube.getRecord('ConfigMap', 'default', 'kube-root-ca.crt')));
    }
    expect(counter.mostAtOnce()).toBeLessThanOrEqual(32);
    expect(counter.opened()).toBeLessThan(100);
  } finally {
    await counter.close();
  }
}, 60_000);
