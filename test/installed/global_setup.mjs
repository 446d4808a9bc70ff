// The release suite against the local control plane (npm test) needs the cluster up, as the e2e
// project does; against an installed release (KWP_RELEASE_NAMESPACE, npm run e2e:kind) nothing.
import e2eSetup from '../e2e/global_setup.mjs';

export default async function globalSetup() {
  if (process.env.KWP_RELEASE_NAMESPACE) return;
  await e2eSetup();
}
