//! Typed value readers with xinetd's exact acceptance rules (which follow C's strtol,
//! strtoull and sscanf, F-109..F-139).
//!
//! These are hand-written rather than pest rules because the accepted language is defined
//! by those C functions' corner cases (leading white space, signs that wrap, trailing white
//! space, 32-bit truncation), which a grammar would only approximate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::env::Environment;
use crate::model::{AddressForm, TimeInterval};

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// strtol/strtoull digits: returns (negative, magnitude, rest) or None when no digits.
/// `None` magnitude means overflow.
fn c_number(s: &str, radix: u32) -> Option<(bool, Option<u64>, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut acc: Option<u64> = Some(0);
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(radix) else {
            break;
        };
        acc = acc
            .and_then(|a| a.checked_mul(u64::from(radix)))
            .and_then(|a| a.checked_add(u64::from(d)));
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((neg, acc, &s[i..]))
}

fn only_trailing_space(rest: &str) -> bool {
    rest.bytes().all(is_c_space)
}

/// xinetd's parse_int(str, radix, -1): strtol with trailing white space allowed, then
/// truncated to a C `int`.
pub fn parse_c_int(s: &str, radix: u32) -> Option<i32> {
    let (neg, mag, rest) = c_number(s, radix)?;
    if !only_trailing_space(rest) {
        return None;
    }
    let mag = mag?;
    // strtol range: [i64::MIN, i64::MAX], ERANGE beyond.
    let v: i64 = if neg {
        if mag > (i64::MAX as u64) + 1 {
            return None;
        }
        (mag as i128).wrapping_neg() as i64
    } else {
        i64::try_from(mag).ok()?
    };
    // The long is stored in an int: truncation, like C.
    Some(v as i32)
}

/// xinetd's parse_ull(str, 10, -1): strtoull (a leading '-' wraps) with trailing white space.
pub fn parse_c_ull(s: &str) -> Option<u64> {
    let (neg, mag, rest) = c_number(s, 10)?;
    if !only_trailing_space(rest) {
        return None;
    }
    let mag = mag?;
    Some(if neg { mag.wrapping_neg() } else { mag })
}

/// parse_ubase10: strtoull truncated to `unsigned int`.
pub fn parse_c_uint(s: &str) -> Option<u32> {
    parse_c_ull(s).map(|v| v as u32)
}

/// get_limit(): a number with an optional K/M suffix (F-133). `None` = invalid.
pub fn parse_limit(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let trimmed_end = s.trim_end_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let last = trimmed_end.as_bytes().last().copied().unwrap_or(b' ');
    let (digits, mult) = match last {
        b'k' | b'K' => (&trimmed_end[..trimmed_end.len() - 1], 1024u64),
        b'm' | b'M' => (&trimmed_end[..trimmed_end.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let v = parse_c_ull(digits)?;
    v.checked_mul(mult)
}

/// sscanf("%lf"): the longest floating-point prefix after leading white space.
pub fn parse_c_double(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let lower = t.to_ascii_lowercase();
    let (sign, body) = match lower.as_bytes().first() {
        Some(b'-') => (-1.0, &lower[1..]),
        Some(b'+') => (1.0, &lower[1..]),
        _ => (1.0, &lower[..]),
    };
    if body.starts_with("inf") {
        return Some(sign * f64::INFINITY);
    }
    if body.starts_with("nan") {
        return Some(f64::NAN);
    }
    // digits [. digits] [e [sign] digits]
    let b = body.as_bytes();
    let mut i = 0;
    let mut mant_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mant_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mant_digits += 1;
        }
    }
    if mant_digits == 0 {
        return None;
    }
    let mut end = i;
    if i < b.len() && b[i] == b'e' {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let ds = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > ds {
            end = j;
        }
    }
    body[..end].parse::<f64>().ok().map(|v| sign * v)
}

/// Why an `access_times` word was rejected (xinetd's two get_num messages and
/// add_interval's ordering message, F-220).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntervalError {
    /// `incorrect time interval`: a separator is missing or misplaced.
    Incorrect,
    /// `invalid time interval`: an hour > 23 or minute > 59.
    OutOfRange,
    /// `invalid time interval: %s`: start not before end.
    NotIncreasing,
}

/// ti_add(): `H:MM-H:MM` with leading spaces, start < end.
pub fn parse_interval(s: &str) -> Result<TimeInterval, IntervalError> {
    let b = s.as_bytes();
    let mut r = 0;
    while r < b.len() && b[r] == b' ' {
        r += 1;
    }
    let get = |r: &mut usize, max: u32, stop: Option<u8>| -> Result<u32, IntervalError> {
        let mut n: u32 = 0;
        let mut i = *r;
        while i < b.len() && b[i].is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add(u32::from(b[i] - b'0'));
            i += 1;
        }
        if b.get(i).copied() != stop {
            return Err(IntervalError::Incorrect);
        }
        if n > max {
            return Err(IntervalError::OutOfRange);
        }
        *r = i + 1;
        Ok(n)
    };
    let h1 = get(&mut r, 23, Some(b':'))?;
    let m1 = get(&mut r, 59, Some(b'-'))?;
    let h2 = get(&mut r, 23, Some(b':'))?;
    let m2 = get(&mut r, 59, None)?;
    let start = h1 * 60 + m1;
    let end = h2 * 60 + m2;
    if start >= end {
        return Err(IntervalError::NotIncreasing);
    }
    Ok(TimeInterval {
        start_minute: start as u16,
        end_minute: end as u16,
    })
}

/// inet_aton(): 1 to 4 parts, each decimal, octal (leading 0) or hex (0x).
pub fn parse_inet_aton(s: &str) -> Option<Ipv4Addr> {
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        nums.push(v as u32);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let max_last: u64 = match head.len() {
        0 => u64::from(u32::MAX),
        1 => 0xFF_FFFF,
        2 => 0xFFFF,
        _ => 0xFF,
    };
    if u64::from(*last) > max_last {
        return None;
    }
    let mut v: u32 = 0;
    for (i, &h) in head.iter().enumerate() {
        v |= h << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(v | last))
}

/// A numeric host as getaddrinfo(AI_NUMERICHOST) reads it (IPv6 only when `:` is present).
pub fn parse_numeric_host(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        let base = s.split('%').next().unwrap_or(s);
        base.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_inet_aton(s).map(IpAddr::V4)
    }
}

/// Outcome of reading one `only_from`/`no_access` word (xinetd's addrlist_op, F-200..F-209).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressOutcome {
    /// Understood.
    Parsed(AddressForm),
    /// `failed to parse %s`: logged, the word is dropped, the attribute still succeeds.
    Unparsed,
    /// An error that fails the attribute (and disables the service): xinetd's message.
    Error(String),
}

/// addrlist_op(): tries numeric, host/domain, explicit mask, factorized, network name.
pub fn classify_address(word: &str, env: &Environment) -> AddressOutcome {
    if word.is_empty() {
        return AddressOutcome::Unparsed;
    }
    let has_slash = word.contains('/');
    let has_brace = word.contains('{');
    // numeric_addr
    if !has_slash && !has_brace {
        if let Some(a) = parse_numeric_host(word) {
            return AddressOutcome::Parsed(AddressForm::Numeric(a));
        }
    }
    // host_addr
    if !has_slash && !has_brace {
        if word.starts_with('.') {
            if word.bytes().any(|c| !c.is_ascii_digit() && c != b'.') {
                return AddressOutcome::Parsed(AddressForm::Domain(word.to_string()));
            }
        } else if !env.resolve(word, None).is_empty() {
            return AddressOutcome::Parsed(AddressForm::Host(word.to_string()));
        }
    }
    // explicit_mask: sscanf("%45[^/]/%u")
    if !has_brace {
        if let Some((addr, bits)) = word.split_once('/') {
            if !addr.is_empty() && addr.len() <= 45 {
                if let Some(bits) = parse_scanf_uint(bits) {
                    let a = if addr.contains(':') {
                        addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
                    } else {
                        parse_inet_aton(addr).map(IpAddr::V4)
                    };
                    if let Some(a) = a {
                        return AddressOutcome::Parsed(AddressForm::Masked(a, bits));
                    }
                }
            }
        }
    }
    // factorized_addr
    match factorized(word) {
        Factorized::Parsed(list) => return AddressOutcome::Parsed(AddressForm::Factorized(list)),
        Factorized::Error(m) => return AddressOutcome::Error(m),
        Factorized::CantParse => {}
    }
    AddressOutcome::Unparsed
}

/// sscanf %u: leading white space, optional sign (wraps), digits; trailing text ignored.
fn parse_scanf_uint(s: &str) -> Option<u32> {
    let (neg, mag, _) = c_number(s, 10)?;
    let mag = mag.unwrap_or(u64::MAX);
    Some(if neg {
        (mag as u32).wrapping_neg()
    } else {
        mag as u32
    })
}

enum Factorized {
    Parsed(Vec<Ipv4Addr>),
    Error(String),
    CantParse,
}

fn factorized(s: &str) -> Factorized {
    let b = s.as_bytes();
    let mut last = b'.';
    let mut num: u32 = 0;
    let mut shift: i32 = 24;
    let mut addr: u32 = 0;
    let mut i = 0;
    loop {
        let Some(&c) = b.get(i) else {
            return Factorized::CantParse;
        };
        if c == b'{' {
            break;
        }
        if c.is_ascii_digit() {
            num = num.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
        } else if c == b'.' {
            if last == b'.' {
                return Factorized::Error(format!("Bad address: {s}. Consecutive dots"));
            }
            addr = addr.wrapping_mul(256).wrapping_add(num);
            num = 0;
            shift -= 8;
        } else {
            return Factorized::CantParse;
        }
        last = c;
        i += 1;
    }
    if addr != 0 {
        let sh = shift + 8;
        addr = if (0..32).contains(&sh) { addr << sh } else { 0 };
    }
    let j = i;
    let mut out = Vec::new();
    for pass in 0..2 {
        let mut i = j + 1;
        let mut last = b',';
        num = 0;
        loop {
            let c = b.get(i).copied().unwrap_or(0);
            if c.is_ascii_digit() {
                num = num.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
                last = c;
                i += 1;
                continue;
            }
            match c {
                b',' | b'}' => {
                    if last == b',' {
                        return Factorized::Error(format!("Bad address: {s}. Consecutive commas"));
                    }
                    if pass == 1 {
                        let part = if (0..32).contains(&shift) {
                            num << shift
                        } else {
                            0
                        };
                        out.push(Ipv4Addr::from(addr.wrapping_add(part)));
                        num = 0;
                    }
                }
                _ => return Factorized::Error(format!("Bad address: {s}")),
            }
            if c == b'}' {
                if i + 1 != b.len() {
                    return Factorized::Error(format!("Bad address: {s}"));
                }
                break;
            }
            last = c;
            i += 1;
        }
    }
    Factorized::Parsed(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers() {
        assert_eq!(parse_c_int(" 5\r", 10), Some(5));
        assert_eq!(parse_c_int("-20", 10), Some(-20));
        assert_eq!(parse_c_int("5x", 10), None);
        assert_eq!(parse_c_int("", 10), None);
        assert_eq!(parse_c_int("077", 8), Some(0o77));
        assert_eq!(parse_c_int("4294967296", 10), Some(0));
        assert_eq!(parse_c_uint("-1"), Some(u32::MAX));
        assert_eq!(parse_limit("64M"), Some(64 << 20));
        assert_eq!(parse_limit("12Q"), None);
        assert_eq!(parse_limit("1k"), Some(1024));
        assert_eq!(parse_c_double("0.5abc"), Some(0.5));
        assert_eq!(parse_c_double("abc"), None);
    }

    #[test]
    fn intervals() {
        assert_eq!(
            parse_interval("8:00-17:30"),
            Ok(TimeInterval {
                start_minute: 480,
                end_minute: 1050
            })
        );
        assert_eq!(parse_interval("24:00-1:00"), Err(IntervalError::OutOfRange));
        assert_eq!(
            parse_interval("12:00-24:00"),
            Err(IntervalError::OutOfRange)
        );
        assert_eq!(parse_interval("8-9"), Err(IntervalError::Incorrect));
        assert_eq!(
            parse_interval("17:00-08:00"),
            Err(IntervalError::NotIncreasing)
        );
        assert_eq!(parse_interval("8:00"), Err(IntervalError::Incorrect));
    }

    #[test]
    fn addresses() {
        let env = Environment::isolated();
        let p = |w: &str| classify_address(w, &env);
        assert_eq!(
            p("127.1"),
            AddressOutcome::Parsed(AddressForm::Numeric("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            p("::1"),
            AddressOutcome::Parsed(AddressForm::Numeric("::1".parse().unwrap()))
        );
        assert_eq!(p("300.1.2.3"), AddressOutcome::Unparsed);
        assert_eq!(p("::gg"), AddressOutcome::Unparsed);
        assert_eq!(
            p(".example.com"),
            AddressOutcome::Parsed(AddressForm::Domain(".example.com".into()))
        );
        assert_eq!(
            p("10.0.0.0/40"),
            AddressOutcome::Parsed(AddressForm::Masked("10.0.0.0".parse().unwrap(), 40))
        );
        assert_eq!(
            p("10.0.{1,2}"),
            AddressOutcome::Parsed(AddressForm::Factorized(vec![
                "10.0.1.0".parse().unwrap(),
                "10.0.2.0".parse().unwrap()
            ]))
        );
        assert_eq!(
            p("10.0.{1,2}.5"),
            AddressOutcome::Error("Bad address: 10.0.{1,2}.5".into())
        );
        assert_eq!(
            p("10.{1,,2}"),
            AddressOutcome::Error("Bad address: 10.{1,,2}. Consecutive commas".into())
        );
        assert_eq!(p("nosuchhost.invalid"), AddressOutcome::Unparsed);
    }
}
