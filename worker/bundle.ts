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
  const slim = withoutSourcesContent(code);
  writeFileSync(file, slim);
  return slim.length;
}

const INLINE_MAP = '//# sourceMappingURL=data:';

/**
 * The bundle with its inline source map kept (the SDK requires one, and maps workflow stack traces
 * to our .ts files and lines with it) but without the sources' text inside it: 2.3 MB of strings
 * that the worker held twice (the main thread and the workflow thread) and that only the
 * "stack trace with sources" query shows. Measured (bench/scale.ts, concurrent): the worker's RSS
 * at ready 257 → 223 MB, at its peak under 100 incidents 751 → 661 MB.
 */
export function withoutSourcesContent(code: string): string {
  // As the SDK reads it (parseWorkflowCode): the last data: URL, its payload after `base64,`.
  const at = code.lastIndexOf(INLINE_MAP);
  const payload = at < 0 ? -1 : code.indexOf('base64,', at);
  if (payload < 0) throw new Error('the workflow bundle has no inline source map');
  const map = JSON.parse(Buffer.from(code.slice(payload + 7).trim(), 'base64').toString('utf8')) as Record<string, unknown>;
  delete map.sourcesContent;
  return `${code.slice(0, payload + 7)}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

if (require.main === module) {
  writeWorkflowBundle().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
