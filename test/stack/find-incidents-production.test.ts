// `helm-unstuck list` on the production-shaped Temporal (temporal-server on PostgreSQL 15, SQL
// visibility, mTLS): the same suite as on the dev server (find-incidents.ts). The search
// attributes are registered by `helm-unstuck temporal setup`, as an operator would on their server,
// and the CLI reaches the server only through the envconfig profile, with its client certificate.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { main } from '../../cli/main';
import { temporalProfile } from '../../worker/temporal';
import { describeFindIncidents } from './find-incidents';
import { startRig } from './incident-rig';
import { NAMESPACE, startProductionTemporal } from './production-temporal';

describeFindIncidents('the production-shaped server (PostgreSQL, mTLS)', async () => {
  const temporal = await startProductionTemporal();
  const cliEnv = temporal.env();
  let err = '';
  const setup = await main(['temporal', 'setup'], { out: () => undefined, err: (s) => (err += s), env: cliEnv });
  if (setup !== 0) throw new Error(`temporal setup exited ${setup}: ${err}`);
  const { connectionOptions, profile } = temporalProfile(cliEnv);
  const rig = await startRig(() => TestWorkflowEnvironment.createFromExistingServer({ address: profile.address!, namespace: NAMESPACE, connectionOptions: connectionOptions as never }));
  const stop = async () => {
    await rig.stop();
    await temporal.stop();
  };
  return { rig: { ...rig, stop }, cliEnv };
});
