//! The client of a Unix-domain socket, known by its credentials (SO_PEERCRED) instead of an
//! address (extension): `only_uid` / `only_gid` decide who is served, and `per_source`
//! counts by uid.

use xinetd_log::FailReason;

use super::Refusal;
use crate::service::Service;

/// SO_PEERCRED of an accepted Unix-domain connection: the client process when it connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// The client's pid.
    pub pid: i32,
    /// The client's effective uid.
    pub uid: u32,
    /// The client's effective gid.
    pub gid: u32,
}

impl Credentials {
    /// How logs name the client (`from=unix:uid=U,gid=G`).
    pub fn peer(self) -> xinetd_log::Peer {
        xinetd_log::Peer::Unix {
            uid: self.uid,
            gid: self.gid,
        }
    }
}

/// `only_uid` / `only_gid`: with neither, every client; otherwise a client whose uid is in
/// `only_uid` or whose gid is in `only_gid` (one list set: that list decides). A refusal is
/// an `address` failure, xinetd's word for the access lists.
pub fn check(svc: &Service, c: Credentials) -> Result<(), Refusal> {
    let o = &svc.rt.conf.socket;
    let uids = o.only_uid.as_ref().map(|v| &v.value);
    let gids = o.only_gid.as_ref().map(|v| &v.value);
    if uids.is_none() && gids.is_none() {
        return Ok(());
    }
    let by_uid = uids.is_some_and(|l| l.iter().any(|n| n.id == c.uid));
    let by_gid = gids.is_some_and(|l| l.iter().any(|n| n.id == c.gid));
    if by_uid || by_gid {
        Ok(())
    } else {
        Err(Refusal::plain(FailReason::Address))
    }
}
