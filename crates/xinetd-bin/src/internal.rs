//! xinetd's internal services (spec §6, F-500..F-521): the exact bytes, and the per-connection
//! state machines the event loop drives with non-blocking I/O.
//!
//! xinetd forks a process for stream echo, discard and chargen; we serve every builtin inside
//! the event loop (no fork), which is what makes internal echo several times faster. The bytes
//! on the wire are the same; the log-visible differences are listed in `docs/compat.md`.

/// The builtins xinetd 2.3.15 knows, plus the admin builtins 2.3.12 removed (F-530), which
/// issue 8 brings back ([`crate::session::admin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// RFC 862.
    Echo,
    /// RFC 863.
    Discard,
    /// RFC 867, in xinetd's own text format (F-504).
    Daytime,
    /// RFC 868 (F-506).
    Time,
    /// RFC 864 (F-508, F-520).
    Chargen,
    /// RFC 1078 multiplexer (F-511, F-540..F-545).
    Tcpmux,
    /// `servers`: the running servers ([`crate::session::admin`]).
    Servers,
    /// `services`: the available services.
    Services,
    /// `xadmin`: the admin shell.
    Xadmin,
    /// `metrics` (extension): the daemon's counters over HTTP ([`crate::session::metrics`]).
    Metrics,
}

impl Builtin {
    /// True for the stream builtins xinetd forks for (F-500, F-502, F-508): they hold the
    /// connection open, so they count for `instances`/`per_source` and get an EXIT line.
    pub fn holds_connection(self) -> bool {
        matches!(
            self,
            Builtin::Echo
                | Builtin::Discard
                | Builtin::Chargen
                | Builtin::Tcpmux
                | Builtin::Servers
                | Builtin::Services
                | Builtin::Xadmin
                | Builtin::Metrics
        )
    }

    /// The admin builtins, served by [`crate::session::admin`] through the event loop.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Builtin::Servers | Builtin::Services | Builtin::Xadmin | Builtin::Metrics
        )
    }
}

/// English upper-case month abbreviations used by xinetd's daytime (F-504).
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// The daytime line: `DD MON YYYY HH:MM:SS ZONE\r\n` in local time (F-504).
pub fn daytime_text(now: &jiff::Zoned) -> String {
    let zone = now
        .time_zone()
        .to_offset_info(now.timestamp())
        .abbreviation()
        .to_string();
    let month = MONTHS
        .get(usize::from(now.month().unsigned_abs()).wrapping_sub(1))
        .copied()
        .unwrap_or("???");
    format!(
        "{:02} {} {} {:02}:{:02}:{:02} {}\r\n",
        now.day(),
        month,
        now.year(),
        now.hour(),
        now.minute(),
        now.second(),
        zone
    )
}

/// Seconds between 1900-01-01 and 1970-01-01 (RFC 868).
const EPOCH_1900: i64 = 2_208_988_800;

/// The 4 time bytes: seconds since 1900, big-endian, modulo 2^32 (F-506).
pub fn time_bytes(unix_secs: i64) -> [u8; 4] {
    // Truncation to 32 bits is the protocol (the field wraps in 2036).
    let v = (unix_secs + EPOCH_1900).rem_euclid(1 << 32) as u32;
    v.to_be_bytes()
}

/// Characters of one chargen line (F-508).
const LINE_CHARS: usize = 72;
/// The ring: `!` (0x21) to `}` (0x7D), 93 characters; space and `~` never appear (F-520).
const RING_LEN: usize = 93;
/// Line starts run 0..=94 and then wrap (a period of 95 lines, F-520).
const LINE_STARTS: usize = 95;
/// A dgram chargen reply is 1024 bytes: 13 full lines and one of 60 characters (F-509).
pub const CHARGEN_DGRAM_LEN: usize = 1024;

/// The chargen ring position. xinetd keeps one process-global position that only dgram
/// requests advance; a stream connection starts from its current value (F-521).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargenRing {
    pos: usize,
}

impl ChargenRing {
    /// Writes the line starting at `start` (72 characters + CRLF, or fewer characters).
    fn line(start: usize, chars: usize, out: &mut Vec<u8>) {
        out.extend((0..chars).map(|i| b'!' + ((start + i) % RING_LEN) as u8));
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the next full stream line and advances.
    pub fn next_line(&mut self, out: &mut Vec<u8>) {
        Self::line(self.pos, LINE_CHARS, out);
        self.pos = (self.pos + 1) % LINE_STARTS;
    }

    /// One dgram reply (1024 bytes); advances the ring by 14 lines (F-509, F-521).
    pub fn datagram(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CHARGEN_DGRAM_LEN);
        for _ in 0..13 {
            self.next_line(&mut out);
        }
        let rest = CHARGEN_DGRAM_LEN - out.len() - 2;
        Self::line(self.pos, rest, &mut out);
        self.pos = (self.pos + 1) % LINE_STARTS;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_seconds_since_1900_big_endian() {
        assert_eq!(time_bytes(0), 2_208_988_800u32.to_be_bytes());
        // 2036-02-07T06:28:16Z wraps to 0.
        assert_eq!(time_bytes(4_294_967_296 - EPOCH_1900), [0, 0, 0, 0]);
    }

    #[test]
    fn daytime_layout() {
        let z: jiff::Zoned = "2026-11-06T21:01:46[UTC]".parse().expect("valid");
        assert_eq!(daytime_text(&z), "06 NOV 2026 21:01:46 UTC\r\n");
    }

    #[test]
    fn chargen_first_line_and_period() {
        let mut ring = ChargenRing::default();
        let mut out = Vec::new();
        ring.next_line(&mut out);
        assert_eq!(
            &out[..],
            &b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n"[..]
        );
        for _ in 1..95 {
            out.clear();
            ring.next_line(&mut out);
        }
        // Line 94 starts at ring position 94 = '"', then the period restarts at '!'.
        assert_eq!(out[0], b'"');
        out.clear();
        ring.next_line(&mut out);
        assert_eq!(out[0], b'!');
        assert!(!out.contains(&b' ') && !out.contains(&b'~'));
    }

    #[test]
    fn chargen_datagrams_are_1024_bytes_and_advance_14_lines() {
        let mut ring = ChargenRing::default();
        let a = ring.datagram();
        let b = ring.datagram();
        let c = ring.datagram();
        assert_eq!((a.len(), b.len()), (1024, 1024));
        assert_eq!((a[0], b[0], c[0]), (b'!', b'/', b'='));
        assert_eq!(&a[1022..], b"\r\n");
        assert_eq!(a.iter().filter(|&&x| x == b'\n').count(), 14);
    }
}
