import { removeDir } from './process';
import { sharedStack } from './shared';

export default async function globalTeardown(): Promise<void> {
  const stop = (globalThis as { __helmUnstuckStop?: () => Promise<void> }).__helmUnstuckStop;
  if (stop) await stop();
  // Keep the logs of a failed run for debugging (CI prints where they are).
  if (!process.env.HELM_UNSTUCK_KEEP_TEST_DIRS) await removeDir(sharedStack().dir);
}
