/** The key a client address is counted under for bans and per-address limits (SPEC section 7). */
import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/auth/throttle.js';

describe('addressKey', () => {
  it.each([
    ['an IPv4 address', '203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address', '::ffff:203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address in capitals', '::FFFF:203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address written in hex', '::ffff:cb00:7107', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address written out in full', '0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['a full IPv6 address', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['another host of the same /64', '2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['the same /64 with leading zeros and capitals', '2001:0DB8:0001:0002:ffff::', '2001:db8:1:2::/64'],
    ['the next /64', '2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['a /64 whose prefix holds zeros', '2001:db8::1', '2001:db8:0:0::/64'],
    ['a link-local address with a zone', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['the IPv6 loopback', '::1', '0:0:0:0::/64'],
    ['a NAT64 address (not mapped: a different prefix)', '64:ff9b::203.0.113.7', '64:ff9b:0:0::/64'],
    ['an address that only looks mapped', '::fffe:203.0.113.7', '0:0:0:0::/64'],
    ['a unix socket peer', 'unix', 'unix'],
  ])('counts %s (%s) as %s', (_what, address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
