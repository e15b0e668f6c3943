// The deploy job a re-run CI job runs, for real: a two-way dry-run diff printed in helm-diff's own
// shape (diff/report.go's headers and unified-diff lines), then `helm upgrade --install` against
// the test cluster. helm-diff itself is not installed here; its two-way comparison is what it
// documents: the new render against Helm's newest stored manifest (`helm get manifest`, whatever
// that revision's status), not the live objects.
import { parseManifest } from '../../activities/kubernetes';
import { TINY_CHART, type Helm } from './helm';

type Doc = Record<string, unknown> & { kind?: string; apiVersion?: string; metadata?: { name?: string; namespace?: string } };

const key = (d: Doc) => `${d.apiVersion}/${d.kind}/${d.metadata?.name}`;
const group = (apiVersion = '') => (apiVersion.includes('/') ? apiVersion.split('/')[0] : 'v1');

/** YAML-ish lines of an object, enough for a unified diff's -/+ lines; a Secret's as --suppress-secrets prints it. */
function lines(d: Doc): string[] {
  if (d.kind === 'Secret') return ['Changes suppressed on sensitive content of type Secret'];
  return JSON.stringify(d, null, 2).split('\n');
}

/** helm-diff's default output (`--output diff`) for two manifests; empty when nothing changed. */
export function helmDiffOutput(stored: string, rendered: string, namespace: string): string {
  const before = new Map((parseManifest(stored) as Doc[]).map((d) => [key(d), d]));
  const after = new Map((parseManifest(rendered) as Doc[]).map((d) => [key(d), d]));
  const out: string[] = [];
  const header = (d: Doc, what: string) => `${d.metadata?.namespace ?? namespace}, ${d.metadata?.name}, ${d.kind} (${group(d.apiVersion)}) ${what}:`;
  for (const [k, d] of after) {
    const old = before.get(k);
    if (!old) out.push(header(d, 'has been added'), ...lines(d).map((l) => `+ ${l}`));
    else if (JSON.stringify(old) !== JSON.stringify(d)) {
      out.push(header(d, 'has changed'));
      if (d.kind === 'Secret') {
        out.push(`+ ${lines(d)[0]}`);
        continue;
      }
      const a = lines(old);
      const b = lines(d);
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i] === b[i]) out.push(`  ${a[i]}`);
        else {
          if (a[i] !== undefined) out.push(`- ${a[i]}`);
          if (b[i] !== undefined) out.push(`+ ${b[i]}`);
        }
      }
    }
  }
  for (const [k, d] of before) if (!after.has(k)) out.push(header(d, 'has been removed'), ...lines(d).map((l) => `- ${l}`));
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * The re-run deploy job: `helm diff upgrade` (two-way) and `helm upgrade --install`, as a GitLab
 * trace with its `$ ` command echoes and section markers. Status: success when helm upgraded.
 */
export async function runDeployJob(helm: Helm, o: { release: string; namespace: string }, set: string[]): Promise<{ status: 'success' | 'failed'; trace: string }> {
  const values = set.flatMap((s) => ['--set', s]);
  const stored = await helm.run(['get', 'manifest', o.release, '-n', o.namespace]);
  const rendered = await helm.ok(['template', o.release, TINY_CHART, '-n', o.namespace, ...values]);
  const diff = helmDiffOutput(stored.code === 0 ? stored.stdout : '', rendered, o.namespace);
  const upgradeArgs = ['upgrade', '--install', o.release, TINY_CHART, '-n', o.namespace, ...values];
  const up = await helm.run(upgradeArgs, 120_000);
  const t = Math.floor(Date.now() / 1000);
  const trace = [
    `section_start:${t}:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m`,
    `\x1b[32;1m$ helm diff upgrade ${o.release} ${TINY_CHART} --namespace ${o.namespace} --allow-unreleased --suppress-secrets ${values.join(' ')}\x1b[0;m`,
    diff.trimEnd(),
    `\x1b[32;1m$ helm ${upgradeArgs.join(' ')}\x1b[0;m`,
    up.stdout.trimEnd(),
    up.stderr.trimEnd(),
    `section_end:${t}:step_script\r\x1b[0K`,
    up.code === 0 ? '\x1b[32;1mJob succeeded\x1b[0;m' : `\x1b[31;1mERROR: Job failed: exit code ${up.code}\x1b[0;m`,
  ]
    .filter((l) => l !== '')
    .join('\n');
  return { status: up.code === 0 ? 'success' : 'failed', trace: `${trace}\n` };
}
