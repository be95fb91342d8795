//! The requests of the protocols served inside the daemon, as pure functions of the bytes
//! read: the tcpmux service-name line (RFC 1078, F-541..F-543) and the xadmin command words
//! (xinetd 2.3.11's `xadmin_handler`). This module uses nothing but `std`, so the fuzz targets
//! (`fuzz/`) compile it as it is.

/// tcpmux's reply when no service matches (F-542), as RFC 1078 has it: xinetd also sends
/// the string's terminating NUL byte (F-979), which issue 8 asks us not to (docs/compat.md).
pub const TCPMUX_NOT_FOUND: &[u8] = b"-Service name not found\r\n";
/// tcpmux's acknowledgement for TCPMUXPLUS services (F-543), without xinetd's stray NUL.
pub const TCPMUX_PLUS_GO: &[u8] = b"+Go\r\n";

/// The service name of a tcpmux request read in one `read()` (F-541): at least 3 bytes,
/// ending with CRLF; `None` means "close silently".
pub fn tcpmux_name(request: &[u8]) -> Option<&str> {
    if request.len() < 3 || !request.ends_with(b"\r\n") {
        return None;
    }
    std::str::from_utf8(&request[..request.len() - 2]).ok()
}

/// xinetd's `MAX_CMD`: one read of an xadmin command.
pub const MAX_CMD: usize = 100;

/// What one xadmin command does.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write this, then the prompt.
    Text(String),
    /// Write `bye bye\n` and close.
    Bye,
}

/// The command in one read (`cmd`, at most [`MAX_CMD`] bytes), as `xadmin_handler` matches
/// it; `run` and `avail` render `show run` / `show avail` when asked.
pub fn command(cmd: &[u8], run: impl FnOnce() -> String, avail: impl FnOnce() -> String) -> Reply {
    // strncmp(cmd, word, min(red, len(word))) == 0: what was read is a prefix of the word,
    // or the word a prefix of what was read.
    let is = |buf: &[u8], word: &str| {
        let n = buf.len().min(word.len());
        buf[..n] == word.as_bytes()[..n]
    };
    if is(cmd, "bye") || is(cmd, "exit") || is(cmd, "quit") {
        return Reply::Bye;
    }
    let mut out = String::new();
    if is(cmd, "help") {
        out.push_str(
            "xinetd admin help:\n\
             show run  :   shows information about running services\n\
             show avail:   shows what services are currently available\n\
             bye, exit :   exits the admin shell\n",
        );
    }
    if is(cmd, "show") {
        let mut rest = cmd.get(4..).unwrap_or_default();
        if rest.first() == Some(&b' ') {
            rest = &rest[1..];
        }
        if !rest.is_empty() {
            if is(rest, "run") {
                out.push_str(&run());
            } else if is(rest, "avail") {
                out.push_str(&avail());
            } else {
                out.push_str(
                    "Relevant commands:\n\
                     run   : Show currently running servers\n\
                     avail : Show currently available servers\n",
                );
            }
        }
    }
    Reply::Text(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpmux_requests() {
        assert_eq!(tcpmux_name(b"date\r\n"), Some("date"));
        assert_eq!(tcpmux_name(b"date\n"), None);
        assert_eq!(tcpmux_name(b"\r\n"), None);
        // xinetd's 26 and 6 bytes, less its trailing NUL.
        assert_eq!(TCPMUX_NOT_FOUND.len(), 25);
        assert_eq!(TCPMUX_PLUS_GO.len(), 5);
    }

    fn cmd(s: &str) -> Reply {
        command(s.as_bytes(), || "RUN\n".into(), || "AVAIL\n".into())
    }

    #[test]
    fn commands_match_like_xinetds_strncmp() {
        assert_eq!(cmd("bye\n"), Reply::Bye);
        assert_eq!(cmd("exit\r\n"), Reply::Bye);
        assert_eq!(cmd("b"), Reply::Bye);
        assert_eq!(cmd("show run\n"), Reply::Text("RUN\n".into()));
        assert_eq!(cmd("show avail\n"), Reply::Text("AVAIL\n".into()));
        assert_eq!(cmd("showrun\n"), Reply::Text("RUN\n".into()));
        let Reply::Text(t) = cmd("show x\n") else {
            panic!("text")
        };
        assert!(t.starts_with("Relevant commands:\n"));
        let Reply::Text(t) = cmd("help\n") else {
            panic!("text")
        };
        assert!(t.starts_with("xinetd admin help:\n"));
        assert_eq!(cmd("nonsense\n"), Reply::Text(String::new()));
        assert_eq!(cmd("\n"), Reply::Text(String::new()));
    }
}
