/** The `metrics_address` setting: where the metrics and status server listens. */

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

/**
 * `host:port` (`[::1]:9464` for IPv6; port 0 picks a free one), or `off`
 * (null). Throws a plain message for the config to report.
 */
export function parseListenAddress(text: string): ListenAddress | null {
  const t = text.trim();
  if (t.toLowerCase() === 'off') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(t);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`"${text}" is not host:port (e.g. 127.0.0.1:9464) or off`);
  return { host: m[1] ?? m[2], port };
}
