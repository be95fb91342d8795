//! Structured records (extensions): the fields shared by `log_type = JOURNAL` (journald's
//! native protocol, [`crate::JournalLog`]) and `log_type = FILE ... JSON` (one JSON object
//! per line), and their two encodings.
//!
//! Every structured record carries `MESSAGE` — byte for byte the text xinetd would log for
//! it (`START: echo pid=0 from=127.0.0.1`) — so grepping the message works as before; the
//! other fields spell out its facts for queries (`journalctl XINETD_SERVICE=echo`,
//! `jq 'select(.EXIT_STATUS != 0)'`).
//!
//! | field | value |
//! |---|---|
//! | `MESSAGE` | the record's text line |
//! | `MESSAGE_ID` | one fixed 128-bit id per record kind ([`message_id`]) |
//! | `PRIORITY` | the syslog level number (records: the service's level, `info` by default) |
//! | `SYSLOG_FACILITY` | the facility number (journal, and JSON of the daemon's log) |
//! | `SYSLOG_IDENTIFIER` | `xinetd` |
//! | `XINETD_RECORD` | `START`, `EXIT`, `FAIL`, `USERID`, `NOID`, `TRAFFIC`, `STDERR` |
//! | `XINETD_SERVICE` | the service id |
//! | `PID` | the server's pid (with `PID` in `log_on_success`) |
//! | `REMOTE_ADDR`, `REMOTE_PORT` | the client (with `HOST`) |
//! | `EXIT_STATUS` / `EXIT_SIGNAL` | how the server ended (with `EXIT`) |
//! | `DURATION_USEC` | how long it ran, in microseconds (with `DURATION`) |
//! | `XINETD_REASON` | the FAIL reason word (`address`, `per_source_limit`, ...) |
//! | `BYTES_IN`, `BYTES_OUT` | TRAFFIC counts |
//!
//! JSON lines also carry `TIMESTAMP` (RFC 3339, local offset, microseconds) first, since
//! a file has no other clock; numbers are JSON numbers there and strings in the journal.

use crate::peer::Peer;
use crate::priority::{Facility, Level};
use crate::record::{Record, RecordKind};

/// `MESSAGE_ID` of START records.
pub const MESSAGE_ID_START: &str = "beef5d7d208545a7ba46d83106939094";
/// `MESSAGE_ID` of EXIT records.
pub const MESSAGE_ID_EXIT: &str = "108b3783a8aa4ec38a487f9205460b43";
/// `MESSAGE_ID` of FAIL records.
pub const MESSAGE_ID_FAIL: &str = "e16e3b4f9d004b469a7614324b4652c3";
/// `MESSAGE_ID` of USERID records.
pub const MESSAGE_ID_USERID: &str = "baf9f62197aa4298b376610a157508fa";
/// `MESSAGE_ID` of NOID records.
pub const MESSAGE_ID_NOID: &str = "9289f97270b342c4b6e35a1d929a206e";
/// `MESSAGE_ID` of TRAFFIC records.
pub const MESSAGE_ID_TRAFFIC: &str = "d0987a5f4b374d9d90ea7d9b41a0ec3e";
/// `MESSAGE_ID` of STDERR records (`log_stderr = yes`).
pub const MESSAGE_ID_STDERR: &str = "067b952412f34c2fa54fa54307c0448a";
/// `MESSAGE_ID` of the daemon's own messages (`-journal`, `-stderr_json`).
pub const MESSAGE_ID_DAEMON: &str = "f7ac145e4c2343cd81991a3351c302c2";

/// The fixed `MESSAGE_ID` of a record kind (generated once; documented in
/// docs/structured-logs.md, so `journalctl MESSAGE_ID=...` finds every START ever logged).
pub fn message_id(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Start => MESSAGE_ID_START,
        RecordKind::Exit => MESSAGE_ID_EXIT,
        RecordKind::Fail => MESSAGE_ID_FAIL,
        RecordKind::Userid => MESSAGE_ID_USERID,
        RecordKind::Noid => MESSAGE_ID_NOID,
        RecordKind::Traffic => MESSAGE_ID_TRAFFIC,
        RecordKind::Stderr => MESSAGE_ID_STDERR,
    }
}

fn kind_word(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Start => "START",
        RecordKind::Exit => "EXIT",
        RecordKind::Fail => "FAIL",
        RecordKind::Userid => "USERID",
        RecordKind::Noid => "NOID",
        RecordKind::Traffic => "TRAFFIC",
        RecordKind::Stderr => "STDERR",
    }
}

/// One field value: text, or a number (a JSON number; decimal text in the journal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Text.
    Text(String),
    /// An unsigned number.
    Unsigned(u64),
    /// A signed number.
    Signed(i64),
}

impl Value {
    fn to_text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Unsigned(n) => n.to_string(),
            Value::Signed(n) => n.to_string(),
        }
    }
}

/// An ordered list of fields (names are journal field names: upper case, digits, `_`).
pub type Fields = Vec<(&'static str, Value)>;

/// The fields of a service record. `facility` is `None` where none applies (a FILE log).
pub fn record_fields(
    record: &Record,
    facility: Option<Facility>,
    level: Level,
    ident: &str,
) -> Fields {
    let f = record.fields();
    let mut out: Fields = vec![
        ("MESSAGE", Value::Text(record.as_str().to_owned())),
        (
            "MESSAGE_ID",
            Value::Text(message_id(record.kind()).to_owned()),
        ),
        ("PRIORITY", Value::Unsigned(u64::from(level.code()))),
    ];
    if let Some(fac) = facility {
        out.push((
            "SYSLOG_FACILITY",
            Value::Unsigned(u64::from(fac.code() >> 3)),
        ));
    }
    out.push(("SYSLOG_IDENTIFIER", Value::Text(ident.to_owned())));
    out.push((
        "XINETD_RECORD",
        Value::Text(kind_word(record.kind()).to_owned()),
    ));
    out.push(("XINETD_SERVICE", Value::Text(f.service.clone())));
    if let Some(pid) = f.pid {
        out.push(("PID", Value::Unsigned(u64::from(pid))));
    }
    if let Some(a) = f.remote_addr {
        out.push(("REMOTE_ADDR", Value::Text(Peer::Addr(a).to_string())));
    }
    if let Some(p) = f.remote_port {
        out.push(("REMOTE_PORT", Value::Unsigned(u64::from(p))));
    }
    if let Some(s) = f.exit_status {
        out.push(("EXIT_STATUS", Value::Signed(i64::from(s))));
    }
    if let Some(s) = f.exit_signal {
        out.push(("EXIT_SIGNAL", Value::Signed(i64::from(s))));
    }
    if let Some(d) = f.duration_usec {
        out.push(("DURATION_USEC", Value::Unsigned(d)));
    }
    if let Some(r) = f.reason {
        out.push(("XINETD_REASON", Value::Text(r.as_str().to_owned())));
    }
    if let Some(n) = f.bytes_in {
        out.push(("BYTES_IN", Value::Unsigned(n)));
    }
    if let Some(n) = f.bytes_out {
        out.push(("BYTES_OUT", Value::Unsigned(n)));
    }
    out
}

/// The fields of a daemon (program log) message: `text` is what the syslog line carries
/// after `xinetd[PID]: `.
pub fn daemon_fields(text: &str, facility: Facility, level: Level, ident: &str) -> Fields {
    vec![
        ("MESSAGE", Value::Text(text.to_owned())),
        ("MESSAGE_ID", Value::Text(MESSAGE_ID_DAEMON.to_owned())),
        ("PRIORITY", Value::Unsigned(u64::from(level.code()))),
        (
            "SYSLOG_FACILITY",
            Value::Unsigned(u64::from(facility.code() >> 3)),
        ),
        ("SYSLOG_IDENTIFIER", Value::Text(ident.to_owned())),
        ("SYSLOG_PID", Value::Unsigned(u64::from(std::process::id()))),
    ]
}

/// Encode fields in journald's native protocol (systemd's `journal-native-protocol` doc):
/// `NAME=value\n`, or — when the value holds a newline — `NAME\n`, the value's length as a
/// little-endian 64-bit integer, the value, `\n`.
pub fn encode_journal(fields: &Fields, out: &mut Vec<u8>) {
    out.clear();
    for (name, value) in fields {
        let text = value.to_text();
        out.extend_from_slice(name.as_bytes());
        if text.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
}

/// Encode fields as one JSON object followed by a newline, `TIMESTAMP` first when given.
pub fn encode_json(fields: &Fields, timestamp: Option<&str>, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, name: &str, json: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(json.as_bytes());
    };
    if let Some(ts) = timestamp {
        put(out, "TIMESTAMP", &json_string(ts));
    }
    for (name, value) in fields {
        let json = match value {
            Value::Text(s) => json_string(s),
            Value::Unsigned(n) => n.to_string(),
            Value::Signed(n) => n.to_string(),
        };
        put(out, name, &json);
    }
    out.push(b'}');
    out.push(b'\n');
}

fn json_string(s: &str) -> String {
    // serde_json escapes control characters, quotes and backslashes per RFC 8259; it
    // cannot fail for a &str.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// The JSON `TIMESTAMP` of a local time: RFC 3339 with the local offset and microseconds.
pub fn json_timestamp(at: &jiff::Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitStatus, LogOnFailure, LogOnSuccess, Server, ServiceRecords};
    use std::time::Duration;

    fn records() -> ServiceRecords {
        ServiceRecords::new(
            "echo",
            LogOnSuccess::from_words(["PID", "HOST", "EXIT", "DURATION"]).expect("flags"),
            LogOnFailure::from_words(["HOST"]).expect("flags"),
        )
    }

    #[test]
    fn exit_record_fields() {
        let mut r = records()
            .exit(Server::Forked(42), ExitStatus::Exited(3), 1)
            .expect("EXIT");
        r.set_duration(Duration::from_micros(1_234_567));
        let f = record_fields(&r, Some(Facility::Daemon), Level::Info, "xinetd");
        let get = |n: &str| f.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("MESSAGE"),
            Some(Value::Text(
                "EXIT: echo status=3 pid=42 duration=1(sec)".into()
            ))
        );
        assert_eq!(get("EXIT_STATUS"), Some(Value::Signed(3)));
        assert_eq!(get("DURATION_USEC"), Some(Value::Unsigned(1_234_567)));
        assert_eq!(get("PID"), Some(Value::Unsigned(42)));
        assert_eq!(get("SYSLOG_FACILITY"), Some(Value::Unsigned(3)));
        assert_eq!(get("PRIORITY"), Some(Value::Unsigned(6)));
    }

    #[test]
    fn start_without_host_has_no_address() {
        let r = ServiceRecords::new(
            "echo",
            LogOnSuccess::from_words(["PID"]).expect("flags"),
            LogOnFailure::default(),
        );
        let mut rec = r
            .start(
                Server::Forked(7),
                Peer::Addr("127.0.0.1".parse().expect("ip")),
            )
            .expect("START");
        rec.set_remote_port(4000);
        let f = record_fields(&rec, None, Level::Info, "xinetd");
        assert!(f
            .iter()
            .all(|(k, _)| *k != "REMOTE_ADDR" && *k != "REMOTE_PORT"));
    }

    #[test]
    fn journal_encoding_uses_binary_form_for_newlines() {
        let fields: Fields = vec![
            ("MESSAGE", Value::Text("a\nb".into())),
            ("PRIORITY", Value::Unsigned(6)),
        ];
        let mut out = Vec::new();
        encode_journal(&fields, &mut out);
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"a\nb\nPRIORITY=6\n");
        assert_eq!(out, want);
    }

    #[test]
    fn json_encoding_escapes_and_types() {
        let fields: Fields = vec![
            ("MESSAGE", Value::Text("say \"hi\"\n".into())),
            ("EXIT_STATUS", Value::Signed(-1)),
        ];
        let mut out = Vec::new();
        encode_json(&fields, Some("2026-12-06T03:00:00.000000+00:00"), &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{\"TIMESTAMP\":\"2026-12-06T03:00:00.000000+00:00\",\
             \"MESSAGE\":\"say \\\"hi\\\"\\n\",\"EXIT_STATUS\":-1}\n"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let z = jiff::civil::date(2026, 12, 6)
            .at(3, 4, 5, 123_456_000)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("valid");
        assert_eq!(json_timestamp(&z), "2026-12-06T03:04:05.123456+00:00");
    }
}
