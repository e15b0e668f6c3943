// Every link in the README resolves inside the repository: a user who clones it has nothing else.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/repo';

test('every relative link in README.md names a file in the repository', () => {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t));
  expect(targets.length).toBeGreaterThan(0);
  const broken = targets.filter((t) => {
    const path = resolve(REPO_ROOT, t.split('#')[0]!);
    return relative(REPO_ROOT, path).startsWith('..') || !existsSync(path);
  });
  expect(broken).toEqual([]);
});
