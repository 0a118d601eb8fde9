/**
 * Whether Meta could ever fetch a URL: a media `link` is downloaded by Meta's servers, from the
 * internet. A link to this machine or to a private network can never work there (and must not be
 * passed on as if it could). Only the string is looked at: nothing is resolved or fetched.
 *
 * The WHATWG URL parser has already turned the many spellings of an IPv4 address (`127.1`,
 * `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`) into dotted decimal, and IPv6 into its compressed
 * form, so the checks below see one spelling.
 */
import { BlockList, isIP } from 'node:net';

/** Addresses no public fetcher reaches: this host, private networks, link-local, reserved ranges. */
const NOT_PUBLIC = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8], // "this network", 0.0.0.0 included
    ['10.0.0.0', 8],
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ];
  const v6: Array<[string, number]> = [
    ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible form (::127.0.0.1)
    ['64:ff9b::', 96], // NAT64 of any IPv4 address: its public form is the IPv4 one
    ['100::', 64], // discard
    ['2001:db8::', 32], // documentation
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['fec0::', 10], // site-local (deprecated)
    ['ff00::', 8], // multicast
  ];
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

/**
 * Why a link's host can never be fetched by Meta, or undefined when it may be. The URL must
 * already be known to parse.
 */
export function unreachableHostReason(url: string): string | undefined {
  const host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  if (host === '') return 'has no host';
  if (host === 'localhost' || host.endsWith('.localhost')) return 'points at this machine (localhost)';
  const ip = host.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  // BlockList checks an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 ranges too.
  if (family !== 0 && NOT_PUBLIC.check(ip, family === 6 ? 'ipv6' : 'ipv4')) {
    return 'points at a loopback, private, link-local or reserved address';
  }
  return undefined;
}
