// Where the project's own files are, whether we run from source (ts-jest, tsx), from dist/ in a
// clone, or from an installed npm package (which has no tools/versions.env, test/ or demo).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findUp(from: string, marker: string): string {
  let dir = from;
  while (!existsSync(join(dir, marker))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`helm-unstuck: no ${marker} above ${from}`);
    dir = up;
  }
  return dir;
}

/** The package's root (its package.json): the clone, or the installed package. */
export const PACKAGE_ROOT = findUp(__dirname, 'package.json');

/** The clone's tools/ (pinned versions, build scripts, the tools cache's layout); undefined in an installed package. */
export const CLONE_TOOLS_DIR = existsSync(join(PACKAGE_ROOT, 'tools', 'versions.env')) ? join(PACKAGE_ROOT, 'tools') : undefined;

/** tools/leash ships in the package (package.json "files"), so the dev server dies with its owner anywhere. */
export const LEASH = join(PACKAGE_ROOT, 'tools', 'leash');
