// The README's first command: a worker with no Temporal configured starts its own dev server,
// serves the helm-unstuck task queue, and takes the server down with it.
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { startWorker } from '../../worker/worker';
import { freePort, removeDir, tempDir } from './process';

test('with no TEMPORAL_ADDRESS the worker starts a local dev server and polls helm-unstuck', async () => {
  const dir = tempDir('worker');
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HELM_UNSTUCK_DEV_SERVER_PORT: String(port),
    HELM_UNSTUCK_DEV_SERVER_DB: join(dir, 'temporal.sqlite'),
  };
  const logs: string[] = [];
  const w = await startWorker({ env, log: (l) => logs.push(l) });
  try {
    expect(w.target.devServer?.started).toBe(true);
    expect(w.target.connectionOptions.address).toBe(`127.0.0.1:${port}`);
    expect(logs.join('\n')).toMatch(/using a local dev server/);
    const conn = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      let pollers = 0;
      for (let i = 0; i < 50 && pollers === 0; i++) {
        const tq = await conn.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: 'helm-unstuck' },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        });
        pollers = tq.pollers?.length ?? 0;
        if (pollers === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(pollers).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  } finally {
    await w.shutdown();
    await removeDir(dir);
  }
  // The dev server went down with the worker.
  await expect(Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 })).rejects.toThrow();
});

test('a TLS setting without an address is a configuration error, not a silent dev server', async () => {
  await expect(startWorker({ env: { TEMPORAL_API_KEY: 'k' }, log: () => undefined })).rejects.toThrow(
    /TLS or API key is configured but no address: set TEMPORAL_ADDRESS/,
  );
});
