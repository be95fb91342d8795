//! The text formats a scraper reads: Prometheus' text exposition format 0.0.4, and
//! OpenMetrics 1.0 text when the request's `Accept` asks for `application/openmetrics-text`.
//!
//! The two differ in little that matters here: an OpenMetrics counter family is named
//! without its `_total` suffix in `# TYPE`/`# HELP` (the samples keep it), `# HELP` escapes
//! `"` too, and the document ends with `# EOF`.

use std::fmt::Write as _;

use super::{Refused, Snapshot, DURATION_BUCKETS};

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when one of its media ranges is
    /// `application/openmetrics-text` with a non-zero `q`, else Prometheus text (which every
    /// scraper reads). Prometheus itself sends both, OpenMetrics preferred.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let wants = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let q_zero = parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("q") && v.trim().parse::<f64>() == Ok(0.0)
                })
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// Metric types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
    Histogram,
}

struct Writer {
    out: String,
    format: Format,
}

impl Writer {
    /// `# HELP` and `# TYPE` of a family; `name` is the sample name (with `_total` for a
    /// counter).
    fn family(&mut self, name: &str, t: Type, help: &str) {
        let family = match (t, self.format) {
            (Type::Counter, Format::OpenMetrics) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let help = match self.format {
            Format::Prometheus => help.replace('\\', "\\\\").replace('\n', "\\n"),
            Format::OpenMetrics => escape(help),
        };
        let ty = match t {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {ty}");
    }

    /// One sample line.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value (or OpenMetrics help text) with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A float as both formats print it (`1.0`, `0.005`, `+Inf`).
fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:?}")
    }
}

/// The whole document.
pub fn render(s: &Snapshot<'_>, format: Format) -> String {
    let mut w = Writer {
        out: String::with_capacity(4096 + 2048 * s.services.len()),
        format,
    };

    w.family(
        "xinetd_service_accepted_total",
        Type::Counter,
        "Requests that reached the admission checks (connections accepted, datagrams read, wait = yes activations).",
    );
    for v in &s.services {
        w.sample(
            "xinetd_service_accepted_total",
            &[("service", v.id)],
            v.counters.accepted,
        );
    }

    w.family(
        "xinetd_service_refused_total",
        Type::Counter,
        "Requests refused, by reason.",
    );
    for v in &s.services {
        for r in Refused::ALL {
            w.sample(
                "xinetd_service_refused_total",
                &[("service", v.id), ("reason", r.label())],
                v.counters.refused(r),
            );
        }
    }

    w.family(
        "xinetd_service_running",
        Type::Gauge,
        "Servers and in-daemon sessions running now.",
    );
    for v in &s.services {
        w.sample("xinetd_service_running", &[("service", v.id)], v.running);
    }

    w.family(
        "xinetd_service_spawn_failures_total",
        Type::Counter,
        "Servers that could not be started (failed forks, failures before exec).",
    );
    for v in &s.services {
        w.sample(
            "xinetd_service_spawn_failures_total",
            &[("service", v.id)],
            v.counters.spawn_failures,
        );
    }

    w.family(
        "xinetd_server_exits_total",
        Type::Counter,
        "Servers that exited, by exit status.",
    );
    for v in &s.services {
        for (status, n) in v.counters.exits() {
            let status = status.to_string();
            w.sample(
                "xinetd_server_exits_total",
                &[("service", v.id), ("status", &status)],
                n,
            );
        }
    }

    w.family(
        "xinetd_server_signals_total",
        Type::Counter,
        "Servers killed by a signal, by signal.",
    );
    for v in &s.services {
        for (sig, n) in v.counters.killed() {
            let name = signal_name(sig);
            w.sample(
                "xinetd_server_signals_total",
                &[("service", v.id), ("signal", &name)],
                n,
            );
        }
    }

    w.family(
        "xinetd_connection_duration_seconds",
        Type::Histogram,
        "How long each server or in-daemon session ran.",
    );
    for v in &s.services {
        let cumulative = v.counters.cumulative_buckets();
        let bounds = DURATION_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY));
        for (le, n) in bounds.zip(cumulative) {
            let le = float(le);
            w.sample(
                "xinetd_connection_duration_seconds_bucket",
                &[("service", v.id), ("le", &le)],
                n,
            );
        }
        w.sample(
            "xinetd_connection_duration_seconds_sum",
            &[("service", v.id)],
            float(v.counters.duration_sum()),
        );
        w.sample(
            "xinetd_connection_duration_seconds_count",
            &[("service", v.id)],
            v.counters.duration_count(),
        );
    }

    w.family(
        "xinetd_redirect_bytes_total",
        Type::Counter,
        "Bytes relayed by redirect: in = from clients to the target, out = from the target to clients.",
    );
    for v in s.services.iter().filter(|v| v.redirect) {
        w.sample(
            "xinetd_redirect_bytes_total",
            &[("service", v.id), ("direction", "in")],
            v.counters.relayed_in,
        );
        w.sample(
            "xinetd_redirect_bytes_total",
            &[("service", v.id), ("direction", "out")],
            v.counters.relayed_out,
        );
    }

    w.family(
        "xinetd_services_available",
        Type::Gauge,
        "Services with a listening socket.",
    );
    w.sample("xinetd_services_available", &[], s.available);

    w.family(
        "xinetd_sensor_banned_addresses",
        Type::Gauge,
        "Addresses on the SENSOR ban list (global_no_access).",
    );
    w.sample("xinetd_sensor_banned_addresses", &[], s.banned);

    w.family(
        "xinetd_reloads_total",
        Type::Counter,
        "Reconfigurations (SIGHUP), by result; failed ones kept the running configuration.",
    );
    w.sample("xinetd_reloads_total", &[("result", "ok")], s.reloads.0);
    w.sample("xinetd_reloads_total", &[("result", "failed")], s.reloads.1);

    w.family(
        "xinetd_log_records_dropped_total",
        Type::Counter,
        "Log records lost: write errors of the program or a service log, or past a FILE log's hard limit.",
    );
    w.sample(
        "xinetd_log_records_dropped_total",
        &[("reason", "write_error")],
        s.log_dropped.0,
    );
    w.sample(
        "xinetd_log_records_dropped_total",
        &[("reason", "hard_limit")],
        s.log_dropped.1,
    );

    if let Some(n) = s.open_fds {
        w.family(
            "xinetd_open_fds",
            Type::Gauge,
            "Descriptors open in the daemon.",
        );
        w.sample("xinetd_open_fds", &[], n);
    }
    if let Some(n) = s.max_fds {
        w.family(
            "xinetd_max_fds",
            Type::Gauge,
            "The daemon's RLIMIT_NOFILE soft limit.",
        );
        w.sample("xinetd_max_fds", &[], n);
    }
    w.family(
        "xinetd_start_time_seconds",
        Type::Gauge,
        "When the daemon started, seconds since the Unix epoch.",
    );
    w.sample("xinetd_start_time_seconds", &[], float(s.start_time));

    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}

/// `SIGKILL` for 9; the number for a signal without a name.
fn signal_name(sig: usize) -> String {
    i32::try_from(sig)
        .ok()
        .and_then(|n| nix::sys::signal::Signal::try_from(n).ok())
        .map_or_else(|| sig.to_string(), |s| s.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::super::{Metrics, ServiceSample};
    use super::*;

    fn snapshot(m: &Metrics) -> Snapshot<'_> {
        Snapshot {
            services: vec![ServiceSample {
                id: "we\"ird\\id",
                counters: m.service("we\"ird\\id").expect("configured"),
                running: 2,
                redirect: true,
            }],
            available: 1,
            banned: 3,
            reloads: (4, 1),
            log_dropped: (0, 0),
            open_fds: Some(12),
            max_fds: Some(1024),
            start_time: 1_700_000_000.5,
        }
    }

    #[test]
    fn accept_chooses_openmetrics_only_when_asked() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Prometheus
        );
    }

    #[test]
    fn both_formats_escape_labels_and_name_families() {
        let mut m = Metrics::default();
        m.configured("we\"ird\\id");
        m.accepted("we\"ird\\id");
        m.server_exited(
            "we\"ird\\id",
            None,
            Some(9),
            std::time::Duration::from_secs(1),
        );
        let text = render(&snapshot(&m), Format::Prometheus);
        assert!(text.contains("# TYPE xinetd_service_accepted_total counter\n"));
        assert!(text.contains("xinetd_service_accepted_total{service=\"we\\\"ird\\\\id\"} 1\n"));
        assert!(text.contains("signal=\"SIGKILL\"} 1\n"));
        assert!(text.contains("le=\"1.0\"} 1\n") && text.contains("le=\"+Inf\"} 1\n"));
        assert!(!text.contains("# EOF"));
        let om = render(&snapshot(&m), Format::OpenMetrics);
        assert!(om.contains("# TYPE xinetd_service_accepted counter\n"));
        assert!(om.contains("# TYPE xinetd_connection_duration_seconds histogram\n"));
        assert!(om.ends_with("# EOF\n"));
    }
}
