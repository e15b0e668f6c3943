// A TCP proxy on loopback that counts the bytes flowing each way. Put in front of the API server,
// it measures what helm and helm-unstuck receive in exactly the same way (TLS records included).
import { createConnection, createServer, type Server } from 'node:net';

export interface ByteCounter {
  port: number;
  /** Bytes sent by the server to clients since the last reset. */
  received(): number;
  sent(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startByteCounter(targetHost: string, targetPort: number): Promise<ByteCounter> {
  let down = 0;
  let up = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    // No Nagle on either leg: a relay that holds small writes back for ACKs adds up to 40 ms to
    // every request-and-answer exchange (a scan's dozen small requests) and nothing to one long
    // stream (helm's single list), so it would skew the comparison it exists to measure.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (d: Buffer) => (up += d.length));
    upstream.on('data', (d: Buffer) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('byte counter has no port');
  return {
    port: addr.port,
    received: () => down,
    sent: () => up,
    reset: () => {
      down = 0;
      up = 0;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
