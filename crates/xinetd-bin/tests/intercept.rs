//! `flags = INTERCEPT` (issue 8; F-140, F-065): accepted with a warning (xinetd-rs has no
//! interceptor process) and cleared, with xinetd's own messages, where xinetd clears it.

mod util;

use util::*;

#[test]
fn intercept_is_accepted_with_a_warning_and_cleared_where_xinetd_clears_it() {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let udp_wait = format!(
        "service icept\n{{\n\ttype = UNLISTED\n\tsocket_type = dgram\n\tprotocol = udp\n\
         \tport = {p1}\n\twait = yes\n\tuser = root\n\tserver = /bin/true\n\
         \tbind = 127.0.0.1\n\tflags = INTERCEPT\n}}\n"
    );
    let conf = udp_wait
        + &internal("daytime", "inner", "stream", p2, "\tflags = INTERCEPT\n")
        + &external("multi", p3, "/bin/echo", "hi", "\tflags = INTERCEPT\n");
    let d = Daemon::start(&conf);
    d.wait_log(
        5,
        "service icept: flags = INTERCEPT is not implemented by xinetd-rs; the server runs \
         without an interceptor",
    );
    let log = d.prog_log();
    // xinetd's own clearing messages (F-065); the services stay.
    assert!(
        log.contains("Internal services cannot be intercepted: inner"),
        "{log}"
    );
    assert!(
        log.contains("Multi-threaded services cannot be intercepted: multi"),
        "{log}"
    );
    assert!(!log.contains("service inner: flags = INTERCEPT"), "{log}");
    assert!(!log.contains("service multi: flags = INTERCEPT"), "{log}");
    assert!(read_all(&mut connect(p2)).ends_with(b"\r\n"));
}
