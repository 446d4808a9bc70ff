import e2eTeardown from '../e2e/global_teardown.mjs';

export default async function globalTeardown() {
  if (process.env.KWP_RELEASE_NAMESPACE) return;
  await e2eTeardown();
}
