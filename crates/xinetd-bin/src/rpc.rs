//! `type = RPC` services (F-119, F-976): registration with the system's portmapper/rpcbind.
//!
//! xinetd binds an RPC service to a port chosen by the kernel (the `port` attribute is
//! ignored), then calls libc's `pmap_set(program, version, protocol, port)` for every version
//! of `rpc_version`, logging `pmap_set failed. service=%s program=%ld version=%ld` for each
//! refusal; a service with no registered version fails to start. Deactivation (reload, cps,
//! exit) calls `pmap_unset(program, version)`.
//!
//! `pmap_set`/`pmap_unset` are two procedures of the portmapper protocol (RFC 1833, program
//! 100000 version 2, procedures 1 and 2): one small ONC RPC call (RFC 5531) over UDP to
//! 127.0.0.1:111. The whole message is eleven 32-bit XDR words, encoded here by hand: the
//! crates.io ONC RPC crates (`onc-rpc`, `xdr-codec`, ...) would bring code generators or
//! a framework for what is 60 lines, and none offers a portmapper client. Unlike xinetd
//! (F-976: `sleep(1)` after each version) registration does not sleep; it blocks the event
//! loop only for the local round trips (at most [`TIMEOUT`] per version when rpcbind does not
//! answer, immediately refused when nothing listens).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::dlog::{Level, ProgramLog};
use crate::service::Service;

/// The portmapper's program number.
pub const PMAP_PROG: u32 = 100_000;
/// The portmapper protocol version `pmap_set` speaks.
pub const PMAP_VERS: u32 = 2;
/// PMAPPROC_SET.
pub const PMAPPROC_SET: u32 = 1;
/// PMAPPROC_UNSET.
pub const PMAPPROC_UNSET: u32 = 2;
/// `IPPROTO_TCP` as the portmapper wants it.
pub const IPPROTO_TCP: u32 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = 17;
/// How long one call waits for the answer (sent twice within it).
pub const TIMEOUT: Duration = Duration::from_millis(1500);

/// The portmapper call `proc` with the `pmap` argument `{prog, vers, prot, port}`.
pub fn encode_call(xid: u32, proc_: u32, prog: u32, vers: u32, prot: u32, port: u32) -> Vec<u8> {
    let words = [
        xid, 0, // CALL
        2, // RPC version
        PMAP_PROG, PMAP_VERS, proc_,
        0, // credentials: AUTH_NONE, no body (as glibc's pmap_set)
        0, 0, // verifier: AUTH_NONE
        0, prog, vers, prot, port,
    ];
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Why a portmapper call did not give an answer.
#[derive(Debug)]
pub enum CallError {
    /// Socket error (ECONNREFUSED when no portmapper listens) or timeout.
    Io(io::Error),
    /// The reply was not an accepted, successful RPC reply.
    Rejected(&'static str),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Io(e) => f.write_str(&xinetd_log::explain_errno(e)),
            CallError::Rejected(why) => f.write_str(why),
        }
    }
}

/// Reads the boolean result of a portmapper reply to `xid`; `None` for a reply to another
/// call (a late answer to an earlier try).
pub fn decode_reply(xid: u32, buf: &[u8]) -> Option<Result<bool, CallError>> {
    let word = |i: usize| -> Option<u32> {
        buf.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0)? != xid {
        return None;
    }
    let r = (|| {
        if word(1) != Some(1) {
            return Err(CallError::Rejected("not an RPC reply"));
        }
        if word(2) != Some(0) {
            return Err(CallError::Rejected("call denied by the portmapper"));
        }
        // Verifier: flavor, length, body padded to 4 bytes.
        let vlen = word(4).ok_or(CallError::Rejected("short reply"))? as usize;
        let at = 5 + vlen.div_ceil(4);
        match word(at) {
            Some(0) => {}
            Some(_) => return Err(CallError::Rejected("call not accepted by the portmapper")),
            None => return Err(CallError::Rejected("short reply")),
        }
        word(at + 1)
            .map(|v| v != 0)
            .ok_or(CallError::Rejected("short reply"))
    })();
    Some(r)
}

/// One call to the portmapper at `pmap`: the boolean it answers.
pub fn call(
    pmap: SocketAddr,
    proc_: u32,
    prog: u32,
    vers: u32,
    prot: u32,
    port: u32,
) -> Result<bool, CallError> {
    let bind: SocketAddr = if pmap.is_ipv4() {
        "127.0.0.1:0".parse().expect("a valid literal")
    } else {
        "[::1]:0".parse().expect("a valid literal")
    };
    let sock = UdpSocket::bind(bind).map_err(CallError::Io)?;
    sock.connect(pmap).map_err(CallError::Io)?;
    sock.set_read_timeout(Some(TIMEOUT / 2))
        .map_err(CallError::Io)?;
    // A transaction id that differs between calls of this process.
    let xid = std::process::id().rotate_left(16)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0));
    let msg = encode_call(xid, proc_, prog, vers, prot, port);
    let mut buf = [0u8; 512];
    let mut last = io::Error::from(io::ErrorKind::TimedOut);
    for _ in 0..2 {
        sock.send(&msg).map_err(CallError::Io)?;
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => match decode_reply(xid, &buf[..n]) {
                    Some(r) => return r,
                    None => continue,
                },
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Err(CallError::Io(e))
                }
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
    }
    Err(CallError::Io(last))
}

/// The program number, versions and protocol of an RPC service.
fn rpc_of(svc: &Service) -> Option<(u32, std::ops::RangeInclusive<u32>, u32)> {
    let c = &svc.rt.conf;
    if !c.has_type(xinetd_conf::ServiceType::Rpc) {
        return None;
    }
    let prog = u32::try_from(c.rpc_number.as_ref()?.value).ok()?;
    let v = c.rpc_version.as_ref()?.value;
    let (lo, hi) = (u32::try_from(v.min).ok()?, u32::try_from(v.max).ok()?);
    let prot = if svc.listen.stream {
        IPPROTO_TCP
    } else {
        IPPROTO_UDP
    };
    Some((prog, lo..=hi, prot))
}

/// `true` for `type = RPC` services.
pub fn is_rpc(svc: &Service) -> bool {
    svc.rt.conf.has_type(xinetd_conf::ServiceType::Rpc)
}

/// Registers every version of an RPC service listening on `port` (xinetd's `activate_rpc`):
/// `false` when no version could be registered (the service fails to start).
pub fn register(svc: &Service, port: u16, pmap: SocketAddr, log: &mut ProgramLog) -> bool {
    let Some((prog, versions, prot)) = rpc_of(svc) else {
        log.msg(
            Level::Err,
            &format!(
                "service {}: RPC service without rpc_number/rpc_version",
                svc.id
            ),
        );
        return false;
    };
    let mut registered = 0;
    for vers in versions {
        match call(pmap, PMAPPROC_SET, prog, vers, prot, port.into()) {
            Ok(true) => registered += 1,
            r => {
                log.msg(
                    Level::Err,
                    &format!(
                        "pmap_set failed. service={} program={prog} version={vers}",
                        svc.id
                    ),
                );
                // Not in xinetd (libc's pmap_set prints only to stderr): why it failed.
                let why = match r {
                    Err(e) => e.to_string(),
                    _ => "the portmapper refused the mapping (already registered?)".to_string(),
                };
                log.msg(
                    Level::Debug,
                    &format!("service {}: portmapper at {pmap}: {why}", svc.id),
                );
            }
        }
    }
    log.msg(
        Level::Debug,
        &format!("Registered {registered} versions of {}", svc.id),
    );
    registered > 0
}

/// Removes the registrations of an RPC service (xinetd's `svc_deactivate`: `pmap_unset` for
/// every version; errors are ignored, as there).
pub fn unregister(svc: &Service, pmap: SocketAddr) {
    if let Some((prog, versions, prot)) = rpc_of(svc) {
        for vers in versions {
            let _ = call(pmap, PMAPPROC_UNSET, prog, vers, prot, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_is_the_rfc_1833_set_message() {
        let m = encode_call(0x01020304, PMAPPROC_SET, 100_099, 3, IPPROTO_UDP, 4000);
        assert_eq!(m.len(), 56);
        assert_eq!(&m[..4], &[1, 2, 3, 4]);
        assert_eq!(&m[12..16], &100_000u32.to_be_bytes());
        assert_eq!(&m[20..24], &1u32.to_be_bytes());
        assert_eq!(&m[40..44], &100_099u32.to_be_bytes());
        assert_eq!(&m[52..56], &4000u32.to_be_bytes());
    }

    #[test]
    fn replies_are_decoded() {
        let reply = |xid: u32, stat: u32, result: u32| -> Vec<u8> {
            [xid, 1, 0, 0, 0, stat, result]
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect()
        };
        assert!(matches!(decode_reply(7, &reply(7, 0, 1)), Some(Ok(true))));
        assert!(matches!(decode_reply(7, &reply(7, 0, 0)), Some(Ok(false))));
        assert!(decode_reply(7, &reply(8, 0, 1)).is_none());
        assert!(matches!(
            decode_reply(7, &reply(7, 1, 1)),
            Some(Err(CallError::Rejected(_)))
        ));
        assert!(matches!(
            decode_reply(7, &[0, 0, 0, 7, 0, 0]),
            Some(Err(CallError::Rejected(_)))
        ));
    }
}
