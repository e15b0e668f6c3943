// The real Temporal dev server, through @temporalio/testing's createLocal with our built binary.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_KEYS } from '../../decisions/incident-search';
import { LEASH, removeDir, tempDir } from './process';
import { sharedStack } from './shared';

/**
 * A dev server for one test file. createLocal runs `<path> server start-dev --port <free> …`;
 * `path` is a wrapper that puts the server on a leash held by this jest worker, so a crashed
 * worker leaves no server behind.
 */
export async function startTemporal(bin = sharedStack().binaries.temporal, o: { withoutSearchAttributes?: boolean } = {}): Promise<TestWorkflowEnvironment> {
  const dir = tempDir('temporal');
  const wrapper = join(dir, 'temporal');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec '${LEASH}' ${process.pid} -- '${bin}' "$@"\n`,
    { mode: 0o755 },
  );
  // createLocal gives the server only a few seconds to come up; on a loaded two-core machine
  // that is sometimes not enough, so try again before failing the test file.
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const env = await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: wrapper },
          ip: '127.0.0.1',
          extraArgs: ['--log-level', 'warn'],
          // The incidents' search attributes, as `helm-unstuck temporal setup` registers them.
          ...(o.withoutSearchAttributes ? {} : { searchAttributes: SEARCH_ATTRIBUTE_KEYS }),
        },
      });
      const teardown = env.teardown.bind(env);
      env.teardown = async () => {
        await teardown();
        await removeDir(dir);
      };
      return env;
    } catch (err) {
      lastError = err;
    }
  }
  await removeDir(dir);
  throw lastError;
}
