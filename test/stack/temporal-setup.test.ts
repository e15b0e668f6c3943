// `helm-unstuck temporal setup` on a server that knows none of the incidents' search attributes:
// it registers them all, a second run registers nothing, and an incident's query then works.
import { main } from '../../cli/main';
import { incidentsQuery } from '../../decisions/incident-search';
import { startTemporal } from './temporal';

test('temporal setup registers the search attributes once; running it again changes nothing', async () => {
  const env = await startTemporal(undefined, { withoutSearchAttributes: true });
  try {
    const run = async () => {
      let out = '';
      let err = '';
      const code = await main(['temporal', 'setup'], { out: (s) => (out += s), err: (s) => (err += s), env: { ...process.env, TEMPORAL_ADDRESS: env.address } });
      return { code, out, err };
    };
    const query = incidentsQuery({ cluster: 'gprd', waiting: true });
    // Before: the server does not know the attributes, so the query is refused.
    await expect(env.client.workflow.count(query)).rejects.toThrow(/Failed to count workflows/);
    expect(await run()).toEqual({ code: 0, err: '', out: 'namespace default: registered HelmUnstuckCluster, HelmUnstuckNamespace, HelmUnstuckRelease, HelmUnstuckStep, HelmUnstuckOutcome, HelmUnstuckAwaitingHuman\n' });
    expect(await run()).toEqual({ code: 0, err: '', out: 'namespace default: nothing to register; already registered: HelmUnstuckCluster, HelmUnstuckNamespace, HelmUnstuckRelease, HelmUnstuckStep, HelmUnstuckOutcome, HelmUnstuckAwaitingHuman\n' });
    expect(await env.client.workflow.count(query)).toMatchObject({ count: 0 });
  } finally {
    await env.teardown();
  }
}, 120_000);
