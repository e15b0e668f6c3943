// `helm-unstuck serve` on the rig, started as an operator starts it: a configuration file, and the
// environment naming the secrets, Temporal, GitLab and the task queue. What varies between tests
// is the configuration; everything else is here once.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeKey } from '../../decisions/decision-proof';
import { serve, type Serving } from '../../server/serve';
import { GITLAB_TOKEN, type Rig } from './incident-rig';
import { sharedStack } from './shared';

export interface ServeOnRig {
  /** Where config.yaml is written. */
  dir: string;
  /** The operator's configuration file; its `kubeconfig` defaults to the shared control plane's. */
  config: Record<string, unknown>;
  taskQueue: string;
  /** HELM_UNSTUCK_WEBHOOK_TOKEN; default: a fresh random one. */
  webhookToken?: string;
  /** HELM_UNSTUCK_DECISION_KEY, the key serve signs decisions with; default: none. */
  decisionKey?: Uint8Array;
  withDetector?: boolean;
  log?: (line: string) => void;
}

export function serveOnRig(rig: Rig, o: ServeOnRig): Promise<Serving> {
  const kubeconfig = (o.config.kubeconfig as string | undefined) ?? sharedStack().kubeconfig;
  const file = join(o.dir, 'config.yaml');
  writeFileSync(file, JSON.stringify({ ...o.config, kubeconfig }));
  return serve({
    env: {
      ...process.env,
      KUBECONFIG: kubeconfig, // the environment wins over the file's kubeconfig: the same one
      HELM_UNSTUCK_CONFIG: file,
      HELM_UNSTUCK_WEBHOOK_TOKEN: o.webhookToken ?? `webhook-${randomBytes(12).toString('hex')}`,
      HELM_UNSTUCK_GITLAB_URL: rig.gitlab.url,
      HELM_UNSTUCK_GITLAB_TOKEN: GITLAB_TOKEN,
      TEMPORAL_ADDRESS: rig.env.address,
      HELM_UNSTUCK_TASK_QUEUE: o.taskQueue,
      ...(o.decisionKey ? { HELM_UNSTUCK_DECISION_KEY: encodeKey(o.decisionKey) } : {}),
    },
    withDetector: o.withDetector,
    log: o.log ?? (() => undefined),
  });
}
