/**
 * The name an image is known by: the last path segment of its reference, with the registry
 * (host and port), the tag and the digest stripped.
 *
 *   registry.example.com:5000/deepflow/deepflow-agent:v6.6@sha256:…  ->  deepflow-agent
 */
export function imageName(image: string): string {
  let ref = image.trim();
  const at = ref.indexOf('@');
  if (at >= 0) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf('/');
  const lastColon = ref.lastIndexOf(':');
  // A colon after the last slash separates the tag; one before it belongs to a registry port.
  if (lastColon > lastSlash) ref = ref.slice(0, lastColon);
  return ref.slice(ref.lastIndexOf('/') + 1);
}
