//! Counting what the daemons wrote: service-log records in a FILE log and messages in the
//! program log (`-filelog`).

/// START, EXIT and FAIL records (and USERID records, and lines that are none of these) in
/// the text of a FILE service log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Records {
    /// `START:` lines.
    pub start: u64,
    /// `EXIT:` lines.
    pub exit: u64,
    /// `FAIL:` lines.
    pub fail: u64,
    /// `USERID:` lines.
    pub userid: u64,
    /// Lines without the `YY/M/D@HH:MM:SS: ` stamp of a record: text a record's value
    /// carried onto a line of its own (e.g. from an identd reply).
    pub unstamped: u64,
}

impl Records {
    /// START + EXIT + FAIL.
    pub fn total(&self) -> u64 {
        self.start + self.exit + self.fail
    }
}

/// True when `line` begins with xinetd's FILE-log stamp `YY/M/D@HH:MM:SS: `.
fn stamped(line: &str) -> bool {
    let Some((date, rest)) = line.split_once('@') else {
        return false;
    };
    let date_ok = date.split('/').count() == 3
        && date
            .split('/')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let time = rest.as_bytes();
    date_ok
        && time.len() >= 10
        && time[..8].iter().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                *b == b':'
            } else {
                b.is_ascii_digit()
            }
        })
        && &time[8..10] == b": "
}

/// Counts the records of a FILE service log.
pub fn count_records(text: &str) -> Records {
    let mut r = Records::default();
    for line in text.lines() {
        if !stamped(line) {
            r.unstamped += 1;
            continue;
        }
        let body = line.split_once(": ").map_or("", |(_, b)| b);
        if body.starts_with("START: ") {
            r.start += 1;
        } else if body.starts_with("EXIT: ") {
            r.exit += 1;
        } else if body.starts_with("FAIL: ") {
            r.fail += 1;
        } else if body.starts_with("USERID: ") {
            r.userid += 1;
        }
    }
    r
}

/// Lines of `text` containing `needle`.
pub fn count_lines(text: &str, needle: &str) -> u64 {
    text.lines().filter(|l| l.contains(needle)).count() as u64
}

/// Reads a file ("" when it does not exist or is not text).
pub fn read(path: &std::path::Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_by_kind() {
        let text = "26/12/6@01:02:03: START: echo pid=0 from=127.0.0.1\n\
                    26/12/6@01:02:03: EXIT: echo status=0 pid=0 duration=0(sec)\n\
                    26/12/6@01:02:04: FAIL: echo per_source_limit from=127.0.0.1\n\
                    26/12/6@01:02:04: USERID: echo UNIX : alice\n\
                    FORGED: a line an identd reply carried\n\
                    26/12/16@21:02:04: START: echo pid=12\n";
        let r = count_records(text);
        assert_eq!(
            r,
            Records {
                start: 2,
                exit: 1,
                fail: 1,
                userid: 1,
                unstamped: 1
            }
        );
        assert_eq!(r.total(), 4);
    }

    #[test]
    fn stamps_are_recognised_strictly() {
        assert!(stamped("26/12/6@01:02:03: START: x"));
        assert!(!stamped("26/12@01:02:03: START: x"));
        assert!(!stamped("26/12/6@01:02:3: START: x"));
        assert!(!stamped("START: x"));
        assert!(!stamped(""));
    }

    #[test]
    fn program_log_lines() {
        let t = "a Reconfigured: new=0\nb\nc Reconfigured: x\n";
        assert_eq!(count_lines(t, "Reconfigured"), 2);
        assert_eq!(count_lines("", "x"), 0);
    }
}
