// The README is the front door and docs/ the guides: every link in them resolves inside the
// repository (a user who clones it has nothing else), the README stays short, and every code name
// the README puts in backticks as a function exists in the code.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/repo';

const DOCS = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

test.each(DOCS)('every relative link in %s names a file in the repository', (doc) => {
  const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
  const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t));
  const broken = targets.filter((t) => {
    const path = resolve(REPO_ROOT, dirname(doc), t.split('#')[0]!);
    return relative(REPO_ROOT, path).startsWith('..') || !existsSync(path);
  });
  expect(broken).toEqual([]);
});

test('the README links every guide in docs/, and stays a front door (at most 200 lines)', () => {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  expect(text.split('\n').length).toBeLessThanOrEqual(200);
  for (const doc of DOCS.filter((d) => d.startsWith('docs/'))) expect(text).toContain(`](${doc})`);
});

/** Every .ts file of the product and its tests' helpers, as text. */
function sources(dir = REPO_ROOT): string {
  let all = '';
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', '.git'].includes(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) all += sources(p);
    else if (e.name.endsWith('.ts')) all += readFileSync(p, 'utf8');
  }
  return all;
}

test("every function the README names in backticks exists in the code (names outlive the code they named)", () => {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  // camelCase names in backticks: activities, decisions, workflows (`judgeDecision`, `unlockRelease`).
  const names = [...new Set([...text.matchAll(/`([a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)`/g)].map((m) => m[1]!))];
  expect(names.length).toBeGreaterThan(10);
  const code = sources();
  const missing = names.filter((n) => !new RegExp(`(function|const|async|let)\\s+${n}\\b|\\b${n}\\s*[(:=]|${n}\\(`).test(code));
  expect(missing).toEqual([]);
});
