// The Host header check that stops DNS rebinding: a web page the user visits can point its
// own domain at 127.0.0.1 and then drive a local server as "same origin". Its requests still
// carry the page's domain in Host, so the server answers only Hosts that name it:
//
//   - 127.0.0.1, localhost and [::1] with the bound port (always);
//   - the address it was told to bind (--host), with the bound port;
//   - on a wildcard bind (0.0.0.0 / ::), this machine's interface addresses and hostname,
//     with the bound port;
//   - names listed in allowedHosts (any port: an operator behind a reverse proxy lists the
//     public name); "*" turns the check off.
//
// A Host without a port means port 80. Anything else gets 421 Misdirected Request.
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import { ApiError } from '../wire/errors.js';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export interface HostPolicy {
  /** hostname (lower case, IPv6 without brackets) -> accepted only with the bound port */
  boundNames: Set<string>;
  /** hostnames accepted with any port */
  anyPort: Set<string>;
  port: number;
  off: boolean;
}

export function hostPolicy(addr: AddressInfo, configuredHost: string, allowedHosts: string[] = []): HostPolicy {
  const names = new Set(LOOPBACK_NAMES);
  names.add(normalise(configuredHost));
  names.add(normalise(addr.address));
  if (WILDCARDS.has(configuredHost) || WILDCARDS.has(addr.address)) {
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(normalise(i.address));
    names.add(normalise(os.hostname()));
  }
  for (const w of WILDCARDS) names.delete(w);
  return { boundNames: names, anyPort: new Set(allowedHosts.map(normalise)), port: addr.port, off: allowedHosts.includes('*') };
}

/** Throws ApiError(421) unless `header` names this server (see the file header). */
export function checkHost(header: string | undefined, policy: HostPolicy): void {
  if (policy.off) return;
  const parsed = header ? splitHost(header) : null;
  if (parsed) {
    if (policy.anyPort.has(parsed.name)) return;
    if (policy.boundNames.has(parsed.name) && parsed.port === policy.port) return;
  }
  const shown = header === undefined ? '(none)' : JSON.stringify(header.slice(0, 200));
  throw new ApiError(421, `Host ${shown} does not name this server; use http://127.0.0.1:${policy.port} (or localhost), or start it with --allowed-hosts NAME. Requests for other host names are refused so that web pages cannot reach this server through DNS rebinding.`, 'invalid_request_error', null, 'misdirected_host');
}

function normalise(host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

function splitHost(h: string): { name: string; port: number } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/i.exec(h.trim());
  if (!m) return null;
  return { name: normalise(m[1]!), port: m[2] === undefined ? 80 : Number(m[2]) };
}
