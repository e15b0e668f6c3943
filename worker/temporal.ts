// How the worker and the CLI reach Temporal: the SDK's own conventions (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the
// TEMPORAL_CONFIG_FILE TOML profiles), or, when none of them names a server, the embedded
// local dev server.
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { ConfigError } from '../lib/config';
import { startDevServer, type DevServer } from './dev-server';

export const DEFAULT_TASK_QUEUE = 'helm-unstuck';

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
  taskQueue: string;
  /** The embedded dev server, when we started or joined one. */
  devServer: DevServer | undefined;
}

/** The Temporal client profile from the SDK's conventions; address unset when none names a server. */
export function temporalProfile(env: NodeJS.ProcessEnv) {
  let profile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: env as Record<string, string> });
  } catch (err) {
    throw new ConfigError([`Temporal client configuration is invalid: ${(err as Error).message}`]);
  }
  const { connectionOptions, namespace } = toClientOptions(profile);
  return { profile, connectionOptions, namespace: namespace ?? 'default' };
}

export async function resolveTemporal(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = () => undefined,
): Promise<TemporalTarget> {
  const { profile, connectionOptions, namespace } = temporalProfile(env);
  const taskQueue = env.HELM_UNSTUCK_TASK_QUEUE || DEFAULT_TASK_QUEUE;
  if (profile.address) {
    return { connectionOptions, namespace, taskQueue, devServer: undefined };
  }
  if (profile.apiKey || profile.tls) {
    throw new ConfigError(['Temporal TLS or API key is configured but no address: set TEMPORAL_ADDRESS']);
  }
  log('no Temporal server configured (TEMPORAL_ADDRESS or a TEMPORAL_CONFIG_FILE profile): using a local dev server');
  const port = env.HELM_UNSTUCK_DEV_SERVER_PORT ? Number(env.HELM_UNSTUCK_DEV_SERVER_PORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65535)) {
    throw new ConfigError([`HELM_UNSTUCK_DEV_SERVER_PORT must be a TCP port, not "${env.HELM_UNSTUCK_DEV_SERVER_PORT}"`]);
  }
  const devServer = await startDevServer({
    log,
    env,
    ...(port ? { port } : {}),
    ...(env.HELM_UNSTUCK_DEV_SERVER_DB ? { dbFile: env.HELM_UNSTUCK_DEV_SERVER_DB } : {}),
  });
  return {
    connectionOptions: { ...connectionOptions, address: devServer.address },
    namespace,
    taskQueue,
    devServer,
  };
}
