// The code reads in an afternoon: no function in the product's core folders is longer than a
// page (60 lines; a longer one is several functions waiting to be named), and no module imports
// itself back through others (a cycle means two files share one concern).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { PACKAGE_ROOT as REPO_ROOT } from '../../lib/repo';

const CORE = ['workflows', 'server', 'report', 'decisions', 'activities'];
const PRODUCT = [...CORE, 'cli', 'client', 'detector', 'lib', 'worker', 'demo', 'bench'];
const MAX_LINES = 60;

function tsFiles(dir: string): string[] {
  const abs = join(REPO_ROOT, dir);
  let entries;
  try {
    entries = readdirSync(abs, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(REPO_ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
}

/** Every function-like node with a body longer than `max` lines, as "file:line name (n lines)". */
export function longFunctions(src: ts.SourceFile, max: number): string[] {
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = src.getLineAndCharacterOfPosition(n.getStart(src)).line;
      const lines = src.getLineAndCharacterOfPosition(n.end).line - first + 1;
      const named = n.name ?? (ts.isVariableDeclaration(n.parent) || ts.isPropertyAssignment(n.parent) ? n.parent.name : undefined);
      if (lines > max) found.push(`${src.fileName}:${first + 1} ${named ? named.getText(src) : '(anonymous)'} (${lines} lines)`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

test(`no function in ${CORE.join('/, ')}/ is longer than ${MAX_LINES} lines`, () => {
  const long = CORE.flatMap(tsFiles).flatMap((f) => longFunctions(parse(f), MAX_LINES));
  expect(long).toEqual([]);
});

test('the measure sees a long function (a check that cannot fail is no check)', () => {
  const body = Array.from({ length: MAX_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const src = ts.createSourceFile('probe.ts', `export const probe = () => {\n${body}\n};\n`, ts.ScriptTarget.Latest, true);
  expect(longFunctions(src, MAX_LINES)).toEqual(['probe.ts:1 probe (62 lines)']);
});

/** The modules a file imports (relative specifiers only, type-only imports included), as repo paths. */
function importsOf(file: string): string[] {
  const src = parse(file);
  const specs: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) specs.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) specs.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(src);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), s.replace(/\.js$/, ''))))
    .flatMap((p) => [`${p}.ts`, join(p, 'index.ts')])
    .filter((p) => PRODUCT_FILES.has(p));
}

const PRODUCT_FILES = new Set(PRODUCT.flatMap(tsFiles));

/** The strongly connected components of more than one module (Tarjan), each a cycle of imports. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}

test('no module imports itself back through others', () => {
  const graph = new Map([...PRODUCT_FILES].map((f) => [f, importsOf(f)]));
  expect([...graph.values()].flat().length).toBeGreaterThan(100);
  expect(cycles(graph)).toEqual([]);
});

test('the cycle finder finds a cycle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  expect(cycles(g)).toEqual([['a', 'b', 'c']]);
});
