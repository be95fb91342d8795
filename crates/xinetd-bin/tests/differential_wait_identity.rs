//! What a tcp `wait = yes` service knows about its client, under the real xinetd 2.3.15.3
//! and ours (issue 18, "Smaller things"): the server's `REMOTE_HOST`, and the records of an
//! internal stream service with `wait = yes`. Both differ on purpose (docs/compat.md,
//! "tcp `wait = yes`: no client address"); the rows assert the oracle's side with
//! `real_has` and ours with `deliberate`.
//! Skipped with a message when /usr/sbin/xinetd is absent or not root.

#[path = "util/diff.rs"]
mod diff;
mod util;

use diff::*;

/// A tcp `wait = yes` server (perl-base is in every Debian): accepts one connection on the
/// listening socket it gets as fd 0 and tells the client what `REMOTE_HOST` says.
const REMOTE_HOST_ACCEPTOR: &str = "use Socket;\n\
accept(my $c, STDIN) or die \"accept: $!\";\n\
select($c); $| = 1;\n\
print defined $ENV{REMOTE_HOST} ? \"REMOTE_HOST=$ENV{REMOTE_HOST}\\n\" : \"REMOTE_HOST unset\\n\";\n\
close $c;\n";

fn one_client(side: &Side, obs: &mut Obs) {
    obs.put("client", tcp(Src::V4(2), side.port(0), b"line\n"));
    wait_for_exit(side);
}

fn wait_for_exit(side: &Side) {
    wait_for(5, || side.read("svc.log").contains("EXIT"));
}

#[test]
fn differential_tcp_wait_yes_client_identity() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    run_table(vec![
        // xinetd puts its placeholder for "no address" into the variable; we leave it
        // unset, as for any request whose client the daemon never saw.
        Scenario::new(
            "wait: tcp wait = yes server's REMOTE_HOST",
            stanza(&[
                ("wait", "yes"),
                ("server", "/usr/bin/perl"),
                ("server_args", "@DIR@/remote_host.pl"),
            ]),
            one_client,
        )
        .file("remote_host.pl", REMOTE_HOST_ACCEPTOR)
        .logs(Logs::Svc)
        .real_has("client", "REMOTE_HOST=<no address>")
        .deliberate(
            "tcp `wait = yes`: no client address",
            &[
                ("client", "REMOTE_HOST unset"),
                ("svc.log", "START: probe pid=N from=<no address>"),
            ],
        ),
        // Internal stream services with wait = yes: xinetd's forked child accepts, and the
        // records carry no address; ours accept in the loop and log the client.
        Scenario::new(
            "wait: internal echo stream wait = yes records",
            internal("echo", "stream", "@P0@", &[("wait", "yes")]),
            one_client,
        )
        .logs(Logs::Svc)
        .real_has("svc.log", "from=<no address>")
        .deliberate(
            "tcp `wait = yes`: no client address",
            &[
                ("client", "line"),
                ("svc.log", "START: echo pid=N from=127.0.0.2"),
            ],
        ),
    ]);
}
