// Where the project's own files are, whether we run from source (ts-jest, tsx) or from dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(from: string): string {
  let dir = from;
  // The repository root holds tools/versions.env; dist/ does not.
  while (!existsSync(join(dir, 'tools', 'versions.env'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`helm-unstuck: cannot find the project root above ${from}`);
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot(__dirname);
export const TOOLS_DIR = join(REPO_ROOT, 'tools');
