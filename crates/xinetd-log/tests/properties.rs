//! Property tests: the ident reply parser does not depend on how TCP splits the reply, and
//! matches a simple reference reading of xinetd's `verify_line`; records never exceed
//! xinetd's buffer; timestamps keep their layout for any instant.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use xinetd_log::{
    file_timestamp, IdentFailure, IdentQuery, IdentTimeout, LogOnFailure, LogOnSuccess,
    ServiceRecords, MAX_RECORD_LEN,
};

fn query(remote: u16, local: u16) -> IdentQuery {
    IdentQuery::new(
        remote,
        local,
        IdentTimeout::After(Duration::from_secs(30)),
        Instant::now(),
    )
}

/// Reference: split on the first ',' and ':' and compare trimmed numbers, then expect
/// `USERID` and ':' with optional white space; the text is the non-empty rest.
fn reference(line: &str, remote: u16, local: u16) -> Option<String> {
    let (r, rest) = line.split_once(',')?;
    let (l, rest) = rest.split_once(':')?;
    let ws = |c: char| " \t\n\x0b\x0c\r".contains(c);
    if r.trim_matches(ws).parse::<u16>().ok()? != remote
        || l.trim_matches(ws).parse::<u16>().ok()? != local
    {
        return None;
    }
    let rest = rest.trim_start_matches(ws).strip_prefix("USERID")?;
    let rest = rest.trim_start_matches(ws).strip_prefix(':')?;
    let text = rest.trim_start_matches(ws);
    (!text.is_empty()).then(|| text.to_owned())
}

fn reply_line() -> impl Strategy<Value = (u16, u16, String)> {
    (
        1u16..=65535,
        1u16..=65535,
        prop::sample::select(vec![" ", "", "  ", "\t"]),
        prop::sample::select(vec!["USERID", "ERROR", "USERID ", "userid"]),
        "[A-Za-z0-9 :,._-]{0,40}",
        any::<bool>(),
    )
        .prop_map(|(r, l, sp, word, text, right_ports)| {
            let (pr, pl) = if right_ports {
                (r, l)
            } else {
                (r, l.wrapping_add(1))
            };
            (
                r,
                l,
                format!("{pr}{sp},{sp}{pl}{sp}:{sp}{word}{sp}:{sp}{text}"),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ident_parse_is_split_invariant_and_matches_reference(
        (remote, local, line) in reply_line(),
        cuts in prop::collection::vec(0usize..200, 0..4),
    ) {
        let bytes = format!("{line}\r\n").into_bytes();
        let whole = query(remote, local).receive(&bytes).expect("CR-LF ends the reply");
        // Same result whatever the chunking.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut q = query(remote, local);
        let mut prev = 0;
        let mut pieces = None;
        for c in cuts {
            if let Some(r) = q.receive(&bytes[prev..c]) {
                pieces = Some(r);
                break;
            }
            prev = c;
        }
        prop_assert_eq!(pieces.as_ref(), Some(&whole));
        // And the same as the reference reading.
        let expected = reference(&line, remote, local);
        match (&whole, expected) {
            (Ok(reply), Some(text)) => prop_assert_eq!(reply.text(), text.as_str()),
            (Err(IdentFailure::BadResponse { line: got }), None) => prop_assert_eq!(got, &line),
            (got, expected) => {
                return Err(TestCaseError::fail(format!("{got:?} vs reference {expected:?}")));
            }
        }
    }

    #[test]
    fn records_fit_xinetds_buffer(id in "[a-z-]{1,40}", text in ".{0,1500}") {
        let s = ServiceRecords::new(id, LogOnSuccess::default(), LogOnFailure::default());
        let rec = s.userid(&text);
        prop_assert!(rec.as_str().len() <= MAX_RECORD_LEN);
        let full = format!("USERID: {} {}", s.id, text);
        prop_assert!(full.starts_with(rec.as_str()));
    }

    #[test]
    fn file_timestamp_layout_holds(secs in -2_000_000_000i64..4_000_000_000i64) {
        let tz = jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("tz");
        let z = jiff::Timestamp::from_second(secs).expect("in range").to_zoned(tz);
        let s = file_timestamp(&z);
        let (date, time) = s.split_once('@').expect("@");
        let parts: Vec<&str> = date.split('/').collect();
        prop_assert_eq!(parts.len(), 3);
        prop_assert_eq!(parts[0].len(), 2);
        prop_assert_eq!(parts[1], z.month().to_string());
        prop_assert_eq!(parts[2], z.day().to_string());
        prop_assert_eq!(time.len(), 8);
        prop_assert_eq!(time, format!("{:02}:{:02}:{:02}", z.hour(), z.minute(), z.second()));
    }
}
