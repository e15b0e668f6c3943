// How every benchmark ends: its result written as bench/results/<name>.json (or the file asked
// for), where it went on stderr, and its headline figures as one JSON line on stdout.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(__dirname, '..', 'results');

/**
 * Write `result` and print `headline`: the result's own fields named, or figures of its own.
 * Returns the file written.
 */
export function writeResult<T extends object>(
  name: string,
  result: T,
  headline: readonly (keyof T & string)[] | Record<string, unknown>,
  file = join(RESULTS_DIR, `${name}.json`),
): string {
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.error(`bench: wrote ${file}`);
  const figures = Array.isArray(headline) ? Object.fromEntries(headline.map((k: keyof T & string) => [k, result[k]])) : headline;
  console.log(JSON.stringify(figures));
  return file;
}

/** Run a benchmark's main: a failure is printed and fails the process. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
