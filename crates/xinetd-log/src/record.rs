//! Service log records (F-720..F-726): `START`, `EXIT`, `FAIL`, `USERID`, `NOID`, `TRAFFIC`,
//! with xinetd's field order and the gating by `log_on_success` / `log_on_failure`.
//!
//! Everything here is pure formatting: the daemon supplies plain values and writes the
//! returned [`Record`] to the service's destination ([`ServiceLog`](crate::ServiceLog)).

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::ident::{IdentFailure, IdentResult};
use crate::peer::Peer;
use crate::{Level, LogError};

/// xinetd formats service records into a 1024-byte buffer (`LOGBUF_SIZE`), so a record is at
/// most 1023 bytes; longer ones (a long identd reply) are cut there.
pub const MAX_RECORD_LEN: usize = 1023;

/// The `log_on_success` flag set (F-117).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogOnSuccess {
    /// `PID`: `pid=` in START and EXIT.
    pub pid: bool,
    /// `HOST`: `from=` in START.
    pub host: bool,
    /// `USERID`: RFC 1413 lookup and `USERID:` record (stream `wait = no` services).
    pub userid: bool,
    /// `EXIT`: EXIT record with `status=`/`signal=`.
    pub exit: bool,
    /// `DURATION`: EXIT record with `duration=`.
    pub duration: bool,
    /// `TRAFFIC`: `TRAFFIC:` record of redirected services.
    pub traffic: bool,
    /// `TLS` (extension): the TLS summary on START ([`ServiceRecords::start_tls`]).
    pub tls: bool,
}

impl LogOnSuccess {
    /// Parse the attribute's words (case-insensitive), e.g. `["PID", "HOST"]`.
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, LogError> {
        let mut f = LogOnSuccess::default();
        for w in words {
            match w.to_ascii_uppercase().as_str() {
                "PID" => f.pid = true,
                "HOST" => f.host = true,
                "USERID" => f.userid = true,
                "EXIT" => f.exit = true,
                "DURATION" => f.duration = true,
                "TRAFFIC" => f.traffic = true,
                "TLS" => f.tls = true,
                _ => return Err(LogError::UnknownFlag(w.to_owned())),
            }
        }
        Ok(f)
    }

    /// No flag at all: no START record (F-720).
    pub fn is_empty(&self) -> bool {
        *self == LogOnSuccess::default()
    }

    /// EXIT records are written when `EXIT` or `DURATION` is set (F-723).
    pub fn logs_exit(&self) -> bool {
        self.exit || self.duration
    }
}

/// The `log_on_failure` flag set (F-118).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogOnFailure {
    /// `HOST`: `from=` in FAIL.
    pub host: bool,
    /// `USERID`: ident lookup for parent-side refusals (F-741).
    pub userid: bool,
    /// `ATTEMPT`: FAIL records with nothing else (implied by the others).
    pub attempt: bool,
}

impl LogOnFailure {
    /// Parse the attribute's words (case-insensitive), e.g. `["HOST", "ATTEMPT"]`.
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, LogError> {
        let mut f = LogOnFailure::default();
        for w in words {
            match w.to_ascii_uppercase().as_str() {
                "HOST" => f.host = true,
                "USERID" => f.userid = true,
                "ATTEMPT" => f.attempt = true,
                _ => return Err(LogError::UnknownFlag(w.to_owned())),
            }
        }
        Ok(f)
    }

    /// No flag at all: no FAIL record (F-721).
    pub fn is_empty(&self) -> bool {
        *self == LogOnFailure::default()
    }
}

/// Which process a START/EXIT record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Server {
    /// A forked server (external, redirect or forking internal service) with its pid.
    Forked(u32),
    /// A connection that xinetd would fork a server for but the daemon serves itself and
    /// holds open (internal stream services such as echo, chargen, tcpmux): there is no
    /// child, so START and EXIT say `pid=0`, and EXIT is written when the connection closes,
    /// as xinetd writes it when its forked child exits.
    Held,
    /// An internal service handled inside the event loop: START says `pid=0` and there is
    /// never an EXIT record (F-720, F-723).
    Inline,
}

impl Server {
    fn pid(self) -> u32 {
        match self {
            Server::Forked(pid) => pid,
            Server::Held | Server::Inline => 0,
        }
    }
}

/// How a forked server ended (F-723).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Normal exit: `status=<n>`.
    Exited(i32),
    /// Killed by a signal: `signal=<n>`.
    Signaled(i32),
}

/// Why a request was refused: the words of `FAIL: <id> <reason>` (F-721, xinetd's
/// `access_explain` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// `address` (only_from / no_access / sensor).
    Address,
    /// `time` (access_times).
    Time,
    /// `fork` (fork failed).
    Fork,
    /// `service_limit` (instances).
    ServiceLimit,
    /// `per_source_limit`.
    PerSourceLimit,
    /// `process_limit` (-limit).
    ProcessLimit,
    /// `libwrap`.
    Libwrap,
    /// `load` (max_load).
    Load,
    /// `connections per second` (cps).
    Cps,
    /// `tls`: not an xinetd word (an extension, issue 15). The TLS handshake failed or timed
    /// out; [`ServiceRecords::fail_detail`] adds what went wrong.
    Tls,
    /// `fds`: not an xinetd word (an extension). The daemon refused a connection it would
    /// have served inside its own process because its descriptor budget is spent (xinetd
    /// holds such connections in forked children instead).
    Descriptors,
    /// `proxy`: not an xinetd word (an extension, issue 13). A `proxy_protocol` service
    /// got no acceptable PROXY header (none in time, a malformed one, or one from a peer
    /// outside `proxy_from`); the record names the peer that sent it.
    Proxy,
}

impl FailReason {
    /// The exact word(s) xinetd logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Address => "address",
            FailReason::Time => "time",
            FailReason::Fork => "fork",
            FailReason::ServiceLimit => "service_limit",
            FailReason::PerSourceLimit => "per_source_limit",
            FailReason::ProcessLimit => "process_limit",
            FailReason::Libwrap => "libwrap",
            FailReason::Load => "load",
            FailReason::Cps => "connections per second",
            FailReason::Descriptors => "fds",
            FailReason::Proxy => "proxy",
            FailReason::Tls => "tls",
        }
    }
}

impl std::str::FromStr for FailReason {
    type Err = LogError;

    /// The exact words of [`FailReason::as_str`] (e.g. `per_source_limit`,
    /// `connections per second`).
    fn from_str(s: &str) -> Result<FailReason, LogError> {
        const ALL: [FailReason; 12] = [
            FailReason::Address,
            FailReason::Time,
            FailReason::Fork,
            FailReason::ServiceLimit,
            FailReason::PerSourceLimit,
            FailReason::ProcessLimit,
            FailReason::Libwrap,
            FailReason::Load,
            FailReason::Cps,
            FailReason::Descriptors,
            FailReason::Proxy,
            FailReason::Tls,
        ];
        ALL.into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| LogError::UnknownFailReason(s.to_owned()))
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a service record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// `START:`
    Start,
    /// `EXIT:`
    Exit,
    /// `FAIL:`
    Fail,
    /// `USERID:`
    Userid,
    /// `NOID:`
    Noid,
    /// `TRAFFIC:`
    Traffic,
    /// `STDERR:` — a line a server wrote to its standard error, with `log_stderr = yes`
    /// (an extension; xinetd has no such record).
    Stderr,
}

impl RecordKind {
    /// xinetd counts START, EXIT and FAIL lines against a FILE log's size limits; USERID,
    /// NOID and TRAFFIC go through `svc_logprint`, which writes with `XLOG_NO_SIZECHECK`.
    /// STDERR lines (an extension, and the most voluminous) count too.
    pub fn counts_toward_limits(self) -> bool {
        matches!(
            self,
            RecordKind::Start | RecordKind::Exit | RecordKind::Fail | RecordKind::Stderr
        )
    }
}

/// The facts of a record as separate values, for structured destinations (journald's
/// native protocol, JSON lines). They say what the text line says and no more: a field is
/// set only when the `log_on_success` / `log_on_failure` flag that puts it in the text is
/// set (no `HOST`, no `REMOTE_ADDR`), so structured logs keep an operator's privacy choices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordFields {
    /// The service id (`XINETD_SERVICE`).
    pub service: String,
    /// The server's pid (`PID`; 0 for services the daemon serves itself).
    pub pid: Option<u32>,
    /// The client address (`REMOTE_ADDR`), as `from=` prints it.
    pub remote_addr: Option<IpAddr>,
    /// The client port (`REMOTE_PORT`): not in xinetd's text; the daemon adds it with
    /// [`Record::set_remote_port`] when the record has an address.
    pub remote_port: Option<u16>,
    /// `status=` (`EXIT_STATUS`).
    pub exit_status: Option<i32>,
    /// `signal=` (`EXIT_SIGNAL`).
    pub exit_signal: Option<i32>,
    /// `duration=` in microseconds (`DURATION_USEC`): whole seconds from the formatter,
    /// refined by [`Record::set_duration`] when the daemon knows the exact time.
    pub duration_usec: Option<u64>,
    /// The FAIL reason (`XINETD_REASON`), e.g. `per_source_limit`.
    pub reason: Option<FailReason>,
    /// `in=` / `out=` of TRAFFIC (`BYTES_IN`, `BYTES_OUT`).
    pub bytes_in: Option<u64>,
    /// See [`RecordFields::bytes_in`].
    pub bytes_out: Option<u64>,
}

/// One formatted service record, without timestamp or newline (destinations add those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    kind: RecordKind,
    text: String,
    fields: RecordFields,
}

impl Record {
    /// A record of `kind` with this text (cut at [`MAX_RECORD_LEN`]) and fields. The
    /// formatters of [`ServiceRecords`] build the records xinetd writes; this is for the
    /// extensions' records (`STDERR:`).
    pub fn with_fields(kind: RecordKind, text: String, fields: RecordFields) -> Record {
        let mut r = Record::new(kind, text);
        r.fields = fields;
        r
    }

    /// The structured fields.
    pub fn fields(&self) -> &RecordFields {
        &self.fields
    }

    /// Add the client's port when the record carries its address (the text is unchanged:
    /// xinetd never prints ports).
    pub fn set_remote_port(&mut self, port: u16) {
        if self.fields.remote_addr.is_some() {
            self.fields.remote_port = Some(port);
        }
    }

    /// Replace the whole-second duration by the exact one, when the record has a duration
    /// (the text keeps xinetd's whole seconds).
    pub fn set_duration(&mut self, d: Duration) {
        if self.fields.duration_usec.is_some() {
            self.fields.duration_usec = Some(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        }
    }

    fn new(kind: RecordKind, mut text: String) -> Record {
        if text.len() > MAX_RECORD_LEN {
            let mut cut = MAX_RECORD_LEN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Record {
            kind,
            text,
            fields: RecordFields::default(),
        }
    }

    fn field(mut self, set: impl FnOnce(&mut RecordFields)) -> Record {
        set(&mut self.fields);
        self
    }

    /// The kind of record.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The line text, e.g. `START: echo pid=0 from=127.0.0.1`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a service logs: its id and flag sets. Methods return `None` when the flags say
/// the record is not written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceRecords {
    /// The service id (F-100), printed in every record.
    pub id: String,
    /// `log_on_success`.
    pub on_success: LogOnSuccess,
    /// `log_on_failure`.
    pub on_failure: LogOnFailure,
}

impl ServiceRecords {
    /// A service's record formatter.
    pub fn new(id: impl Into<String>, on_success: LogOnSuccess, on_failure: LogOnFailure) -> Self {
        ServiceRecords {
            id: id.into(),
            on_success,
            on_failure,
        }
    }

    fn fields(&self) -> RecordFields {
        RecordFields {
            service: self.id.clone(),
            ..RecordFields::default()
        }
    }

    /// `START: <id>[ pid=<pid>][ from=<addr>]` (F-720) — any `log_on_success` flag enables it.
    pub fn start(&self, server: Server, peer: Peer) -> Option<Record> {
        if self.on_success.is_empty() {
            return None;
        }
        let mut s = format!("START: {}", self.id);
        let mut f = self.fields();
        if self.on_success.pid {
            let _ = write!(s, " pid={}", server.pid());
            f.pid = Some(server.pid());
        }
        if self.on_success.host {
            let _ = write!(s, " from={peer}");
            f.remote_addr = peer.addr();
        }
        Some(Record::new(RecordKind::Start, s).field(|x| *x = f))
    }

    /// `EXIT: <id>[ status=<n>| signal=<n>][ pid=<pid>][ duration=<secs>(sec)]` (F-723),
    /// with `EXIT` or `DURATION` in `log_on_success`. Never for [`Server::Inline`].
    /// `duration_secs` is whole seconds since the fork (or, for [`Server::Held`], since the
    /// connection was accepted), see [`elapsed_secs`].
    pub fn exit(&self, server: Server, status: ExitStatus, duration_secs: i64) -> Option<Record> {
        if server == Server::Inline {
            return None;
        }
        let pid = server.pid();
        if !self.on_success.logs_exit() {
            return None;
        }
        let mut s = format!("EXIT: {}", self.id);
        let mut f = self.fields();
        if self.on_success.exit {
            let _ = match status {
                ExitStatus::Exited(n) => {
                    f.exit_status = Some(n);
                    write!(s, " status={n}")
                }
                ExitStatus::Signaled(n) => {
                    f.exit_signal = Some(n);
                    write!(s, " signal={n}")
                }
            };
        }
        if self.on_success.pid {
            let _ = write!(s, " pid={pid}");
            f.pid = Some(pid);
        }
        if self.on_success.duration {
            let _ = write!(s, " duration={duration_secs}(sec)");
            f.duration_usec = Some(
                u64::try_from(duration_secs.max(0))
                    .unwrap_or(0)
                    .saturating_mul(1_000_000),
            );
        }
        Some(Record::new(RecordKind::Exit, s).field(|x| *x = f))
    }

    /// `START: <id>[ pid=<pid>][ from=<addr>][ <tls>]`: [`ServiceRecords::start`] with the
    /// TLS summary (e.g. `tls=TLSv1.3 cipher=... subject="CN=x"`) appended when `TLS` is in
    /// `log_on_success` (extension).
    pub fn start_tls(&self, server: Server, peer: Peer, tls: &str) -> Option<Record> {
        let mut r = self.start(server, peer)?;
        if self.on_success.tls && !tls.is_empty() {
            let mut s = std::mem::take(&mut r.text);
            let _ = write!(s, " {tls}");
            r = Record::new(RecordKind::Start, s);
        }
        Some(r)
    }

    /// `FAIL: <id> <reason> <detail>[ from=<addr>]`: [`ServiceRecords::fail`] with what went
    /// wrong after the reason word (extension: `FAIL: s tls alert=bad_certificate from=..`).
    pub fn fail_detail(&self, reason: FailReason, detail: &str, peer: Peer) -> Option<Record> {
        if self.on_failure.is_empty() {
            return None;
        }
        let mut s = format!("FAIL: {} {} {detail}", self.id, reason.as_str());
        if self.on_failure.host {
            let _ = write!(s, " from={peer}");
        }
        Some(Record::new(RecordKind::Fail, s))
    }

    /// `FAIL: <id> <reason>[ from=<addr>]` (F-721) — any `log_on_failure` flag enables it.
    pub fn fail(&self, reason: FailReason, peer: Peer) -> Option<Record> {
        if self.on_failure.is_empty() {
            return None;
        }
        let mut s = format!("FAIL: {} {}", self.id, reason.as_str());
        let mut f = self.fields();
        f.reason = Some(reason);
        if self.on_failure.host {
            let _ = write!(s, " from={peer}");
            f.remote_addr = peer.addr();
        }
        Some(Record::new(RecordKind::Fail, s).field(|x| *x = f))
    }

    /// `USERID: <id> <text>` (F-724), `text` being the identd reply after `USERID :`
    /// ([`IdentReply::text`](crate::IdentReply::text)). xinetd writes it whenever a lookup
    /// succeeded; whether to look up at all is [`LogOnSuccess::userid`] /
    /// [`LogOnFailure::userid`].
    pub fn userid(&self, text: &str) -> Record {
        let f = self.fields();
        Record::new(RecordKind::Userid, format!("USERID: {} {}", self.id, text)).field(|x| *x = f)
    }

    /// `NOID: <id> <addr> <reason>` (F-724): an `IDONLY` service refusing a client whose
    /// identity could not be established.
    pub fn noid(&self, peer: Peer, failure: &IdentFailure) -> Record {
        let mut f = self.fields();
        f.remote_addr = peer.addr();
        Record::new(
            RecordKind::Noid,
            format!("NOID: {} {} {}", self.id, peer, failure.reason()),
        )
        .field(|x| *x = f)
    }

    /// `STDERR: <id> pid=<pid> <line>` (extension, `log_stderr = yes`): one line a server
    /// wrote to its standard error, without its newline. Written whenever the service
    /// asks for its servers' stderr, whatever `log_on_success` says.
    pub fn stderr(&self, pid: u32, line: &str) -> Record {
        let mut f = self.fields();
        f.pid = Some(pid);
        Record::new(
            RecordKind::Stderr,
            format!("STDERR: {} pid={pid} {line}", self.id),
        )
        .field(|x| *x = f)
    }

    /// `TRAFFIC: <id> in=<n>(bytes) out=<m>(bytes)` (F-725), with `TRAFFIC` in
    /// `log_on_success` (redirect services).
    pub fn traffic(&self, bytes_in: u64, bytes_out: u64) -> Option<Record> {
        if !self.on_success.traffic {
            return None;
        }
        let mut f = self.fields();
        f.bytes_in = Some(bytes_in);
        f.bytes_out = Some(bytes_out);
        Some(
            Record::new(
                RecordKind::Traffic,
                format!(
                    "TRAFFIC: {} in={bytes_in}(bytes) out={bytes_out}(bytes)",
                    self.id
                ),
            )
            .field(|x| *x = f),
        )
    }
}

/// What to do with a connection after a lookup for a starting server (F-740, F-142).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentOutcome {
    /// `USERID:` on success, `NOID:` when an `IDONLY` service refuses; else none.
    pub record: Option<Record>,
    /// False when `IDONLY` refuses the client (xinetd closes the connection, `_exit(0)`).
    pub admit: bool,
    /// Messages for the program log.
    pub diagnostics: Vec<Diagnostic>,
}

impl ServiceRecords {
    /// Apply a lookup made because `USERID` is in `log_on_success`: log `USERID:` on
    /// success; on failure an `IDONLY` service logs `NOID:` and refuses, any other service
    /// starts anyway without a record.
    pub fn ident_before_start(
        &self,
        peer: Peer,
        result: &IdentResult,
        idonly: bool,
    ) -> IdentOutcome {
        match result {
            Ok(reply) => IdentOutcome {
                record: Some(self.userid(reply.text())),
                admit: true,
                diagnostics: Vec::new(),
            },
            Err(failure) => IdentOutcome {
                record: idonly.then(|| self.noid(peer, failure)),
                admit: !idonly,
                diagnostics: failure.diagnostic(peer).into_iter().collect(),
            },
        }
    }

    /// Apply a lookup made because `USERID` is in `log_on_failure` (a parent-side refusal,
    /// F-741): `USERID:` on success; failures other than `no server` are reported as
    /// `Failed to contact identity server at <addr>: <reason>`.
    pub fn ident_after_refusal(
        &self,
        peer: Peer,
        result: &IdentResult,
    ) -> (Option<Record>, Vec<Diagnostic>) {
        match result {
            Ok(reply) => (Some(self.userid(reply.text())), Vec::new()),
            Err(IdentFailure::NoServer) => (None, Vec::new()),
            Err(failure) => {
                let mut d: Vec<Diagnostic> = failure.diagnostic(peer).into_iter().collect();
                d.push(Diagnostic::new(
                    DiagnosticKind::IdentFailed,
                    Level::Err,
                    "stream_logging",
                    format!(
                        "Failed to contact identity server at {peer}: {}",
                        failure.reason()
                    ),
                ));
                (None, d)
            }
        }
    }
}

/// Whole seconds between a server's start and its end as xinetd computes `duration=`:
/// the difference of the two `time()` values (each truncated to the second).
pub fn elapsed_secs(started: SystemTime, ended: SystemTime) -> i64 {
    fn secs(t: SystemTime) -> i64 {
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => {
                // Before 1970: time() rounds toward negative infinity.
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() > 0 {
                    -whole - 1
                } else {
                    -whole
                }
            }
        }
    }
    secs(ended).saturating_sub(secs(started))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn held_connections_render_as_pid_zero_with_exit() {
        // Server::Held replaced callers passing Forked(0): the bytes must not change.
        let records = ServiceRecords::new(
            "echo",
            LogOnSuccess::from_words(["PID", "HOST", "EXIT", "DURATION"]).expect("flags"),
            LogOnFailure::default(),
        );
        let peer = Peer::Addr("::ffff:127.0.0.1".parse().expect("addr"));
        let start = records.start(Server::Held, peer).expect("START");
        assert_eq!(
            start,
            records.start(Server::Forked(0), peer).expect("START")
        );
        assert_eq!(start.as_str(), "START: echo pid=0 from=::ffff:127.0.0.1");
        let exit = records.exit(Server::Held, ExitStatus::Exited(0), 2);
        assert_eq!(
            exit,
            records.exit(Server::Forked(0), ExitStatus::Exited(0), 2)
        );
        assert_eq!(
            exit.as_ref().map(Record::as_str),
            Some("EXIT: echo status=0 pid=0 duration=2(sec)")
        );
    }

    #[test]
    fn tls_summary_and_fail_detail() {
        let peer = Peer::Addr("127.0.0.1".parse().expect("addr"));
        let with = ServiceRecords::new(
            "s",
            LogOnSuccess::from_words(["HOST", "TLS"]).expect("flags"),
            LogOnFailure::from_words(["HOST"]).expect("flags"),
        );
        let r = with.start_tls(Server::Held, peer, "tls=TLSv1.3 cipher=X");
        assert_eq!(
            r.as_ref().map(Record::as_str),
            Some("START: s from=127.0.0.1 tls=TLSv1.3 cipher=X")
        );
        // Without the TLS flag, START is the plain one.
        let without = ServiceRecords::new(
            "s",
            LogOnSuccess::from_words(["HOST"]).expect("flags"),
            LogOnFailure::default(),
        );
        assert_eq!(
            without
                .start_tls(Server::Held, peer, "tls=TLSv1.3")
                .as_ref()
                .map(Record::as_str),
            Some("START: s from=127.0.0.1")
        );
        let f = with.fail_detail(FailReason::Tls, "alert=unknown_ca (sent)", peer);
        assert_eq!(
            f.as_ref().map(Record::as_str),
            Some("FAIL: s tls alert=unknown_ca (sent) from=127.0.0.1")
        );
        assert!(without
            .fail_detail(FailReason::Tls, "timeout", peer)
            .is_none());
        assert_eq!("tls".parse::<FailReason>().ok(), Some(FailReason::Tls));
    }

    #[test]
    fn long_records_are_cut_like_xinetd() {
        let r = ServiceRecords::new("svc", LogOnSuccess::default(), LogOnFailure::default());
        let rec = r.userid(&"x".repeat(2000));
        assert_eq!(rec.as_str().len(), MAX_RECORD_LEN);
        assert!(rec.as_str().starts_with("USERID: svc xxx"));
    }

    #[test]
    fn fail_reasons_parse_back() {
        for word in [
            "address",
            "per_source_limit",
            "connections per second",
            "libwrap",
        ] {
            let r: FailReason = word.parse().expect("known reason");
            assert_eq!(r.as_str(), word);
        }
        assert!("cps".parse::<FailReason>().is_err());
    }

    #[test]
    fn elapsed_truncates_each_end() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_millis(10_900);
        let t1 = SystemTime::UNIX_EPOCH + Duration::from_millis(11_100);
        assert_eq!(elapsed_secs(t0, t1), 1);
        assert_eq!(elapsed_secs(t0, t0 + Duration::from_millis(50)), 0);
    }

    #[test]
    fn flag_words_parse_case_insensitively() {
        let s = LogOnSuccess::from_words(["pid", "Host", "EXIT"]).expect("valid");
        assert!(s.pid && s.host && s.exit && !s.duration);
        assert!(LogOnSuccess::from_words(["RECORD"]).is_err());
        let f = LogOnFailure::from_words(["attempt"]).expect("valid");
        assert!(f.attempt && !f.is_empty());
        assert!(LogOnFailure::from_words(["PID"]).is_err());
    }
}
