// `helm-unstuck list` on the Temporal dev server (the suite is in find-incidents.ts, so another
// server can run it too).
import { describeFindIncidents, devServerEnv } from './find-incidents';
import { startRig } from './incident-rig';

describeFindIncidents('the dev server', async () => {
  const rig = await startRig();
  return { rig, cliEnv: devServerEnv(rig) };
});
