// The shipped Grafana dashboard: the written files (deploy/grafana and the chart's copy) equal what
// deploy/grafana/dashboard.ts generates, and every query names only metrics helm-unstuck exports.
// That each panel returns data after a real incident is test/stack/dashboard.test.ts's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { panels, shippedFiles } from '../../deploy/grafana/dashboard';

const DIR = join(__dirname, '..', '..', 'deploy', 'grafana');

test.each(Object.entries(shippedFiles()))('%s is what dashboard.ts generates (run: npx tsx deploy/grafana/dashboard.ts)', (name, text) => {
  expect(readFileSync(join(DIR, name), 'utf8')).toBe(text);
});

test('no two panels overlap on the grid', () => {
  const cells = panels().flatMap((p) => Array.from({ length: p.gridPos.w * p.gridPos.h }, (_, i) => `${p.gridPos.x + (i % p.gridPos.w)},${p.gridPos.y + Math.floor(i / p.gridPos.w)}`));
  expect(new Set(cells).size).toBe(cells.length);
});

test('every panel has a unique title, fits the 24-column grid and has a query; every metric it names is one of ours', () => {
  const sources = ['server/metrics.ts', 'detector/metrics.ts'].map((f) => readFileSync(join(__dirname, '..', '..', f), 'utf8')).join('\n');
  const all = panels();
  expect(new Set(all.map((p) => p.title)).size).toBe(all.length);
  for (const p of all) {
    expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    expect(p.targets.length).toBeGreaterThan(0);
    for (const t of p.targets) {
      const metrics = t.expr.match(/helm_unstuck_[a-z_]+/g) ?? [];
      expect(metrics.length).toBeGreaterThan(0);
      for (const m of metrics) expect({ panel: p.title, metric: m, exported: sources.includes(`'${m.replace(/_bucket$/, '')}'`) }).toEqual({ panel: p.title, metric: m, exported: true });
    }
  }
});
