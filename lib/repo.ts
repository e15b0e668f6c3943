// Where the project's own files are, whether we run from source (ts-jest) or from dist/.
import { basename, join, resolve } from 'node:path';

const up = resolve(__dirname, '..');
export const REPO_ROOT = basename(up) === 'dist' ? resolve(up, '..') : up;
export const TOOLS_DIR = join(REPO_ROOT, 'tools');
