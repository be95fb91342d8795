//! Parsing one `only_from` / `no_access` value into address-list entries (F-200..F-209).
//!
//! xinetd (`addrlist_op` in addr.c) tries each value, in this order, as a numeric address, a
//! host or `.domain` name, an explicit `addr/bits` mask, a factorized address and a network
//! name from /etc/networks; the first form that parses wins. We keep that order, because it
//! decides what ambiguous values mean (`10` is the numeric address 0.0.0.10, not a network
//! name).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::{AclError, AclWarning};
use crate::resolver::Resolver;

/// How xinetd classifies an entry in its configuration dump (`addrlist_dump`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A single address or one with trailing-zero wildcards, including factorized values
    /// (`NUMERIC` in the dump).
    Numeric,
    /// An explicit `addr/bits` mask or a network name (`NET`).
    Net,
    /// A host name or `.domain` suffix (`HOST`).
    Host,
}

/// What one parsed entry matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryTarget {
    /// Addresses inside a network (an exact address is a full-length network).
    ///
    /// `written` is the address as written (xinetd keeps host bits of `10.1.2.3/8` and prints
    /// them in its dump); matching uses the truncated network.
    Network {
        /// The network that is matched.
        net: IpNet,
        /// The address as written in the configuration.
        written: IpAddr,
    },
    /// A host name: matches when the client's reverse-resolved name equals it (ignoring case),
    /// or when the client's address is one of the addresses the name resolved to when the
    /// configuration was read.
    Host {
        /// The name as written.
        name: String,
        /// Addresses the name had when the configuration was read.
        addresses: Vec<IpAddr>,
    },
    /// A `.domain` suffix: matches when the client's reverse-resolved name ends with it
    /// (ignoring case).
    Domain {
        /// The suffix as written, with its leading dot.
        suffix: String,
    },
}

/// One entry of an address list, as xinetd stores it (a factorized value gives several).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Entry {
    /// The configuration value this entry came from (e.g. `10.0.{1,2}` for both of its
    /// entries).
    pub source: String,
    /// xinetd's classification of the entry.
    pub kind: EntryKind,
    /// What the entry matches.
    pub target: EntryTarget,
}

impl Entry {
    fn network(source: &str, kind: EntryKind, written: IpAddr, prefix_len: u8) -> Entry {
        let net = match written {
            IpAddr::V4(a) => IpNet::V4(
                Ipv4Net::new(a, prefix_len)
                    .expect("IPv4 prefix length is clamped to 32 before this point")
                    .trunc(),
            ),
            IpAddr::V6(a) => IpNet::V6(
                Ipv6Net::new(a, prefix_len)
                    .expect("IPv6 prefix length is clamped to 128 before this point")
                    .trunc(),
            ),
        };
        Entry {
            source: source.to_owned(),
            kind,
            target: EntryTarget::Network { net, written },
        }
    }

    /// The entry as xinetd prints it in its configuration dump (`addrlist_dump`), e.g.
    /// `10.0.1.0(NUMERIC)`, `192.168.0.0/255.255.0.0(NET)` or `localhost(HOST)`.
    pub fn xinetd_dump(&self) -> String {
        match (&self.target, self.kind) {
            (EntryTarget::Network { net, written }, EntryKind::Net) => {
                format!("{written}/{}(NET)", net.netmask())
            }
            (EntryTarget::Network { written, .. }, _) => format!("{written}(NUMERIC)"),
            (EntryTarget::Host { name, .. }, _) => format!("{name}(HOST)"),
            (EntryTarget::Domain { suffix }, _) => format!("{suffix}(HOST)"),
        }
    }
}

/// Result of parsing one value: its entries (none for an empty value or one that was only
/// warned about) and the warnings to log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedValue {
    /// Entries, in xinetd's order.
    pub entries: Vec<Entry>,
    /// What to log; the value is kept unless it is [`AclWarning::FailedToParse`].
    pub warnings: Vec<AclWarning>,
}

/// Parse one `only_from` / `no_access` value.
///
/// Host names are checked with `resolver` the way xinetd checks them while reading its
/// configuration (a name that does not resolve is dropped with `failed to parse`), and network
/// names are looked up in /etc/networks through it.
pub fn parse_value(value: &str, resolver: &dyn Resolver) -> Result<ParsedValue, AclError> {
    let mut out = ParsedValue::default();
    // xinetd ignores empty values (addrlist_op).
    if value.is_empty() {
        return Ok(out);
    }
    // parse_inet_addresses rejects a comma outside braces before trying any form (F-208).
    if value.contains(',') && !value.contains('{') {
        return Err(AclError::CommaInAddress {
            text: value.to_owned(),
        });
    }
    if let Some(entry) = numeric_addr(value, &mut out.warnings) {
        out.entries.push(entry);
        return Ok(out);
    }
    let mut resolve_detail = None;
    match host_addr(value, resolver) {
        HostResult::Parsed(entry) => {
            out.entries.push(entry);
            return Ok(out);
        }
        HostResult::Unresolved(detail) => resolve_detail = detail,
        HostResult::CantParse => {}
    }
    if let Some(entry) = explicit_mask(value, &mut out.warnings) {
        out.entries.push(entry);
        return Ok(out);
    }
    if let Some(entries) = factorized_addr(value)? {
        out.entries = entries;
        return Ok(out);
    }
    if let Some(entry) = net_addr(value, resolver) {
        out.entries.push(entry);
        return Ok(out);
    }
    out.warnings.push(AclWarning::FailedToParse {
        text: value.to_owned(),
        detail: resolve_detail,
    });
    Ok(out)
}

/// Parse an IPv4 address the way glibc's `inet_aton` does (it is what
/// `getaddrinfo(AI_NUMERICHOST, AF_INET)` uses): one to four parts, each decimal, `0x` hex or
/// leading-zero octal; the last part fills the remaining bytes (`127.1` = 127.0.0.1,
/// `10` = 0.0.0.10).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        values.push(parse_c_number(p)?);
    }
    let (last, init) = values.split_last()?;
    for v in init {
        if *v > 0xFF {
            return None;
        }
    }
    let max_last: u64 = match init.len() {
        0 => 0xFFFF_FFFF,
        1 => 0x00FF_FFFF,
        2 => 0xFFFF,
        _ => 0xFF,
    };
    if *last > max_last {
        return None;
    }
    let mut addr: u64 = 0;
    for (i, v) in init.iter().enumerate() {
        addr |= v << (24 - 8 * i);
    }
    addr |= last;
    u32::try_from(addr).ok().map(Ipv4Addr::from)
}

/// One `inet_aton` part: decimal, `0x` hexadecimal or leading-zero octal; must start with a
/// digit.
fn parse_c_number(p: &str) -> Option<u64> {
    let b = p.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    let (digits, radix) = if b.len() > 1 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
        (&p[2..], 16)
    } else if b.len() > 1 && b[0] == b'0' {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // "0x" alone is 0 for inet_aton.
        return if radix == 16 { Some(0) } else { None };
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Saturate instead of overflowing: anything this large is rejected by the caller.
    Some(u64::from_str_radix(digits, radix).unwrap_or(u64::MAX))
}

/// F-200/F-201: a numeric address. IPv4 trailing zero octets become wildcards and `0.0.0.0`
/// matches every IPv4 address; IPv6 is exact.
fn numeric_addr(value: &str, warnings: &mut Vec<AclWarning>) -> Option<Entry> {
    if value.contains('/') || value.contains('{') {
        return None;
    }
    if value.contains(':') {
        let a: Ipv6Addr = value.parse().ok()?;
        if a.is_unspecified() {
            warnings.push(AclWarning::UnspecifiedIpv6MatchesNothing {
                text: value.to_owned(),
            });
        }
        return Some(Entry::network(
            value,
            EntryKind::Numeric,
            IpAddr::V6(a),
            128,
        ));
    }
    let a = inet_aton(value)?;
    let bits = u32::from(a);
    // Keep every octet up to and including the last non-zero one (numeric_addr in addr.c).
    let prefix_len = if bits == 0 {
        0
    } else {
        32 - 8 * (bits.trailing_zeros() / 8)
    };
    Some(Entry::network(
        value,
        EntryKind::Numeric,
        IpAddr::V4(a),
        u8::try_from(prefix_len).expect("prefix length is at most 32"),
    ))
}

enum HostResult {
    Parsed(Entry),
    /// A name that did not resolve (with the resolver's reason, if any).
    Unresolved(Option<String>),
    CantParse,
}

/// F-205/F-206: `.domain` suffixes (anything with a leading dot that is not all digits and
/// dots) and host names (anything that resolves).
fn host_addr(value: &str, resolver: &dyn Resolver) -> HostResult {
    if value.contains('/') || value.contains('{') {
        return HostResult::CantParse;
    }
    let digits_and_dots = value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if value.starts_with('.') {
        if digits_and_dots {
            return HostResult::CantParse;
        }
        return HostResult::Parsed(Entry {
            source: value.to_owned(),
            kind: EntryKind::Host,
            target: EntryTarget::Domain {
                suffix: value.to_owned(),
            },
        });
    }
    // xinetd hands these to getaddrinfo too, which then asks DNS; a name made only of digits
    // and dots cannot be a host name (no numeric top-level domain), so we skip the query.
    if digits_and_dots {
        return HostResult::CantParse;
    }
    match resolver.lookup_host(value) {
        Ok(addresses) if !addresses.is_empty() => HostResult::Parsed(Entry {
            source: value.to_owned(),
            kind: EntryKind::Host,
            target: EntryTarget::Host {
                name: value.to_owned(),
                addresses,
            },
        }),
        Ok(_) => HostResult::Unresolved(None),
        Err(e) => HostResult::Unresolved(Some(e.to_string())),
    }
}

/// F-203: `addr/bits` for IPv4 and IPv6.
fn explicit_mask(value: &str, warnings: &mut Vec<AclWarning>) -> Option<Entry> {
    if value.contains('{') {
        return None;
    }
    let (addr_text, mask_text) = value.split_once('/')?;
    // sscanf("%45[^/]/%u"): at most 45 address characters, then an unsigned number; text
    // after the number is ignored.
    if addr_text.is_empty() || addr_text.len() > 45 {
        return None;
    }
    let digits_end = mask_text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(mask_text.len());
    if digits_end == 0 {
        return None;
    }
    if digits_end < mask_text.len() {
        warnings.push(AclWarning::TrailingTextAfterMask {
            text: value.to_owned(),
        });
    }
    let bits: u64 = mask_text[..digits_end].parse().unwrap_or(u64::MAX);
    let written: IpAddr = if addr_text.contains(':') {
        IpAddr::V6(addr_text.parse().ok()?)
    } else {
        IpAddr::V4(inet_aton(addr_text)?)
    };
    let max: u8 = if written.is_ipv4() { 32 } else { 128 };
    if bits > u64::from(max) {
        warnings.push(AclWarning::MaskTooLong {
            text: value.to_owned(),
            max,
        });
    }
    let len = u8::try_from(bits.min(u64::from(max))).expect("clamped to at most 128");
    // xinetd prints a full IPv4 mask given as /32 as NUMERIC; a longer one stays NET.
    let kind = if written.is_ipv4() && bits == 32 {
        EntryKind::Numeric
    } else {
        EntryKind::Net
    };
    Some(Entry::network(value, kind, written, len))
}

/// F-204: `a.b.{x,y,z}`: the braces are the last component and stand for one octet each; the
/// octets after them are wildcards.
fn factorized_addr(value: &str) -> Result<Option<Vec<Entry>>, AclError> {
    let bad = |reason: &'static str| AclError::BadFactorizedAddress {
        text: value.to_owned(),
        reason,
    };
    let bytes = value.as_bytes();
    let mut octets: Vec<u32> = Vec::new();
    let mut num: Option<u32> = None;
    let mut last_was_dot = true;
    let mut brace = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                let n = num.unwrap_or(0).saturating_mul(10) + u32::from(b - b'0');
                num = Some(n);
                last_was_dot = false;
            }
            b'.' => {
                // xinetd reports `..` (and a leading dot) even for values without braces,
                // and that error disables the service.
                if last_was_dot {
                    return Err(AclError::ConsecutiveDots {
                        text: value.to_owned(),
                    });
                }
                octets.push(num.take().unwrap_or(0));
                last_was_dot = true;
            }
            b'{' => {
                brace = Some(i);
                break;
            }
            // Not a factorized value: let the next form try.
            _ => return Ok(None),
        }
    }
    let Some(open) = brace else {
        return Ok(None);
    };
    // Stricter than xinetd, which silently drops digits right before the brace
    // (`10.0{1}` = 10.1.0.0/16) and lets octets overflow into their neighbours.
    if num.is_some() {
        return Err(bad("the braces must follow a dot"));
    }
    if octets.len() > 3 {
        return Err(bad("too many components before the braces"));
    }
    if octets.iter().any(|&o| o > 255) {
        return Err(bad("octet out of range (0-255)"));
    }
    let rest = &value[open + 1..];
    let Some(close) = rest.find('}') else {
        return Err(bad("missing '}'"));
    };
    if close + 1 != rest.len() {
        return Err(bad("the factorized part must be at the end of the address"));
    }
    let inner = &rest[..close];
    let mut elements = Vec::new();
    for element in inner.split(',') {
        if element.is_empty() {
            return Err(AclError::ConsecutiveCommas {
                text: value.to_owned(),
            });
        }
        if !element.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("only numbers are allowed inside the braces"));
        }
        let n: u32 = element.parse().unwrap_or(u32::MAX);
        if n > 255 {
            return Err(bad("octet out of range (0-255)"));
        }
        elements.push(n);
    }
    let position = octets.len(); // index of the braced octet
    let mut base: u32 = 0;
    for (i, o) in octets.iter().enumerate() {
        base |= o << (24 - 8 * i);
    }
    let prefix_len = u8::try_from(8 * (position + 1)).expect("at most 32");
    let shift = 24 - 8 * position;
    Ok(Some(
        elements
            .into_iter()
            .map(|n| {
                let a = Ipv4Addr::from(base | (n << shift));
                Entry::network(value, EntryKind::Numeric, IpAddr::V4(a), prefix_len)
            })
            .collect(),
    ))
}

/// F-207: a network name from /etc/networks; the mask follows the size of the network number
/// (`net_addr` in addr.c).
fn net_addr(value: &str, resolver: &dyn Resolver) -> Option<Entry> {
    let number = resolver.lookup_network(value).ok().flatten()?;
    let (addr, len) = network_number_to_net(number)?;
    Some(Entry::network(value, EntryKind::Net, IpAddr::V4(addr), len))
}

/// xinetd's table: a number up to 0xFF is a /8 network (shifted left 24 bits), up to 0xFFFF a
/// /16, up to 0xFFFFFF a /24, anything larger a /32. Zero is rejected.
pub(crate) fn network_number_to_net(number: u32) -> Option<(Ipv4Addr, u8)> {
    let (shift, len) = match number {
        0 => return None,
        1..=0xFF => (24, 8),
        0x100..=0xFFFF => (16, 16),
        0x1_0000..=0xFF_FFFF => (8, 24),
        _ => (0, 32),
    };
    Some((Ipv4Addr::from(number << shift), len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::StaticResolver;

    #[test]
    fn inet_aton_accepts_glibc_forms() {
        assert_eq!(inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("10"), Some(Ipv4Addr::new(0, 0, 0, 10)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("10.0.256"), Some(Ipv4Addr::new(10, 0, 1, 0)));
        assert_eq!(inet_aton("300.1.2.3"), None);
        assert_eq!(inet_aton("1.2.3.4."), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("08.1.1.1"), None);
        assert_eq!(inet_aton(""), None);
    }

    #[test]
    fn network_numbers_follow_xinetd_table() {
        assert_eq!(
            network_number_to_net(127),
            Some((Ipv4Addr::new(127, 0, 0, 0), 8))
        );
        assert_eq!(
            network_number_to_net(0xC0A8),
            Some((Ipv4Addr::new(192, 168, 0, 0), 16))
        );
        assert_eq!(
            network_number_to_net(0xC0A801),
            Some((Ipv4Addr::new(192, 168, 1, 0), 24))
        );
        assert_eq!(network_number_to_net(0), None);
    }

    #[test]
    fn dump_matches_xinetd_format() {
        let r = StaticResolver::new().host("localhost", ["127.0.0.1".parse().unwrap()]);
        let dump = |v: &str| {
            parse_value(v, &r)
                .unwrap()
                .entries
                .iter()
                .map(Entry::xinetd_dump)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            dump("10.0.{1,2,3}"),
            "10.0.1.0(NUMERIC) 10.0.2.0(NUMERIC) 10.0.3.0(NUMERIC)"
        );
        assert_eq!(dump("192.168.0.0/16"), "192.168.0.0/255.255.0.0(NET)");
        assert_eq!(dump("2001:db8::/32"), "2001:db8::/ffff:ffff::(NET)");
        assert_eq!(dump("fe80::/10"), "fe80::/ffc0::(NET)");
        assert_eq!(dump("localhost"), "localhost(HOST)");
        assert_eq!(dump(".example.invalid"), ".example.invalid(HOST)");
        assert_eq!(dump("0.0.0.0"), "0.0.0.0(NUMERIC)");
        assert_eq!(dump("0.0.0.0/0"), "0.0.0.0/0.0.0.0(NET)");
        assert_eq!(dump("10.0.0.0/40"), "10.0.0.0/255.255.255.255(NET)");
        assert_eq!(dump("::ffff:127.0.0.1"), "::ffff:127.0.0.1(NUMERIC)");
    }
}
