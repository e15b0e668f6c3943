// The workflow bundle, built once with the rest of dist/ (`npm run build`): a worker started from
// dist/ loads it instead of running webpack at every start. Bundling in the worker cost it about
// 100 MB of resident memory that it kept for its whole life (bench/scale.ts, worker_peak_rss_mb),
// and 5 to 10 s of CPU per start. From the sources (tsx, tests) there is no prebuilt bundle and
// the worker bundles as before.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where `npm run build` puts the bundle: next to the compiled worker. */
export const PREBUILT_BUNDLE = join(__dirname, 'workflow-bundle.js');

export async function writeWorkflowBundle(file = PREBUILT_BUNDLE): Promise<number> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quiet });
  writeFileSync(file, code);
  return code.length;
}

if (require.main === module) {
  writeWorkflowBundle().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
