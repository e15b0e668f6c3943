// A Temporal client for the CLI: the SDK's environment conventions, or the local dev server the
// worker starts by default (127.0.0.1:7233). The CLI never starts a server itself.
import { Client, Connection } from '@temporalio/client';
import { temporalProfile } from '../worker/temporal';

export async function connectClient(env: NodeJS.ProcessEnv): Promise<{ client: Client; close: () => Promise<void> }> {
  const { profile, connectionOptions, namespace } = temporalProfile(env);
  const address = profile.address ?? `127.0.0.1:${env.HELM_UNSTUCK_DEV_SERVER_PORT ?? 7233}`;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, address, connectTimeout: 5000 } as never);
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${address} (${(err as Error).message}); set TEMPORAL_ADDRESS or run 'helm-unstuck worker'`);
  }
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}
