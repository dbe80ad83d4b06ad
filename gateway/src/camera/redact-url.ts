/** Query parameters some cameras take credentials in (`?user=admin&pwd=...`). */
const SECRET_PARAM = /pass|pwd|token|secret|key|auth|sig/i;

/**
 * A camera address fit for logs, error messages and `sourceRef`: user info
 * and secret-looking query values removed. Anything that is not a URL (a file,
 * /dev/video0) is returned as is.
 */
export function redactUrl(address: string): string {
  if (!/^[a-z][a-z0-9+.-]+:\/\//i.test(address)) return address;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    // Not parseable, so no user info can be told apart from the host: show the scheme only.
    return `${address.slice(0, address.indexOf('://'))}://<unparseable>`;
  }
  url.username = '';
  url.password = '';
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) url.searchParams.set(name, 'redacted');
  }
  return url.toString();
}
