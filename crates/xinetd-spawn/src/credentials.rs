//! `user`, `group` and `groups` (F-106, F-107, F-108), resolved in the parent.

use std::ffi::CString;

use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

use crate::SpawnError;

/// The identity a server runs with, fully resolved before any child exists.
///
/// The child only issues the raw `setgid`/`setgroups`/`setuid` system calls with these numbers,
/// because name-service lookups are not async-signal-safe (and may open files, sockets or
/// threads). The supplementary list for `groups = yes` is therefore computed here with
/// `getgrouplist`, when the spec is built (at configuration load), not per connection as
/// xinetd's `initgroups` does (see [docs/compat.md](https://github.com/xinetd-rs/xinetd-rs/blob/main/docs/compat.md#spawning-xinetd-spawn)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    uid: Option<Uid>,
    gid: Option<Gid>,
    supplementary: Vec<Gid>,
    /// `(user name, passwd gid)` when the list comes from `groups = yes` (for log messages).
    initgroups: Option<(String, Gid)>,
}

impl Credentials {
    /// No `user` and no `group`: the server keeps the daemon's identity and groups.
    pub fn inherit() -> Credentials {
        Credentials::default()
    }

    /// Resolves xinetd's `user`, `group` and `groups` attributes:
    ///
    /// * `user`: a name from the password database (its uid and primary gid), or all digits,
    ///   taken as the uid without lookup **and as the gid too** unless `group` is given (F-106);
    /// * `group`: a name from the group database or all digits (F-107); it replaces the
    ///   user's gid;
    /// * `groups = yes` with a `user`: supplementary groups are those `initgroups(user name,
    ///   user's passwd gid)` would set, where the name and gid come from `getpwuid(uid)` as in
    ///   xinetd (so a numeric user needs a passwd entry then); otherwise the list is emptied
    ///   (`setgroups(0, NULL)`, F-108).
    ///
    /// Group and supplementary-group changes are only made when the daemon runs as root; the
    /// uid change is attempted even otherwise (F-411), see [`spawn`](crate::spawn).
    pub fn resolve(
        user: Option<&str>,
        group: Option<&str>,
        groups: bool,
    ) -> Result<Credentials, SpawnError> {
        let mut uid = None;
        let mut gid = None;
        if let Some(user) = user {
            match all_digits(user) {
                Some(n) => {
                    uid = Some(Uid::from_raw(n));
                    gid = Some(Gid::from_raw(n));
                }
                None => {
                    let pw = User::from_name(user)
                        .map_err(|errno| lookup_error(format!("user {user}"), errno))?
                        .ok_or_else(|| SpawnError::UnknownUser(user.to_owned()))?;
                    uid = Some(pw.uid);
                    gid = Some(pw.gid);
                }
            }
        }
        if let Some(group) = group {
            gid = Some(match all_digits(group) {
                Some(n) => Gid::from_raw(n),
                None => {
                    Group::from_name(group)
                        .map_err(|errno| lookup_error(format!("group {group}"), errno))?
                        .ok_or_else(|| SpawnError::UnknownGroup(group.to_owned()))?
                        .gid
                }
            });
        }
        let mut supplementary = Vec::new();
        let mut initgroups = None;
        if let (true, Some(uid)) = (groups, uid) {
            let pw = User::from_uid(uid)
                .map_err(|errno| lookup_error(format!("getpwuid({uid})"), errno))?
                .ok_or_else(|| SpawnError::UnknownUser(uid.to_string()))?;
            let name = CString::new(pw.name.clone()).map_err(|_| SpawnError::NulByte {
                what: "user name",
                value: pw.name.clone(),
            })?;
            supplementary = getgrouplist(&name, pw.gid)
                .map_err(|errno| lookup_error(format!("getgrouplist({})", pw.name), errno))?;
            initgroups = Some((pw.name, pw.gid));
        }
        Ok(Credentials {
            uid,
            gid,
            supplementary,
            initgroups,
        })
    }

    /// Already-numeric credentials: `setgid(gid)`, `setgroups(supplementary)`, `setuid(uid)`.
    /// An empty `supplementary` clears the list, as `groups = no` does.
    pub fn numeric(uid: Option<u32>, gid: Option<u32>, supplementary: &[u32]) -> Credentials {
        Credentials {
            uid: uid.map(Uid::from_raw),
            gid: gid.or(uid).map(Gid::from_raw),
            supplementary: supplementary.iter().copied().map(Gid::from_raw).collect(),
            initgroups: None,
        }
    }

    /// The uid `setuid` will receive, if any.
    pub fn uid(&self) -> Option<Uid> {
        self.uid
    }

    /// The gid `setgid` will receive, if any.
    pub fn gid(&self) -> Option<Gid> {
        self.gid
    }

    /// The supplementary groups `setgroups` will receive (empty = cleared).
    pub fn supplementary(&self) -> &[Gid] {
        &self.supplementary
    }

    /// `(user name, passwd gid)` whose `initgroups` list this is, for `groups = yes`.
    pub fn initgroups(&self) -> Option<(&str, Gid)> {
        self.initgroups.as_ref().map(|(n, g)| (n.as_str(), *g))
    }

    /// True when neither `user` nor `group` was given: nothing is changed.
    pub fn is_inherit(&self) -> bool {
        self.uid.is_none() && self.gid.is_none()
    }
}

/// xinetd accepts a uid/gid written only with digits without any lookup.
fn all_digits(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn lookup_error(what: String, errno: nix::errno::Errno) -> SpawnError {
    SpawnError::Lookup { what, errno }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_user_sets_gid_to_the_same_number() {
        let c = Credentials::resolve(Some("4242"), None, false).unwrap();
        assert_eq!(c.uid(), Some(Uid::from_raw(4242)));
        assert_eq!(c.gid(), Some(Gid::from_raw(4242)));
        assert!(c.supplementary().is_empty());
    }

    #[test]
    fn group_overrides_the_users_gid() {
        let c = Credentials::resolve(Some("4242"), Some("5"), false).unwrap();
        assert_eq!(c.gid(), Some(Gid::from_raw(5)));
    }

    #[test]
    fn named_user_uses_passwd() {
        let c = Credentials::resolve(Some("root"), None, false).unwrap();
        assert_eq!(c.uid(), Some(Uid::from_raw(0)));
        assert_eq!(c.gid(), Some(Gid::from_raw(0)));
    }

    #[test]
    fn unknown_names_are_errors() {
        let r = Credentials::resolve(Some("no-such-user-xinetd-rs"), None, false);
        assert!(matches!(r, Err(SpawnError::UnknownUser(_))));
        let r = Credentials::resolve(None, Some("no-such-group-xinetd-rs"), false);
        assert!(matches!(r, Err(SpawnError::UnknownGroup(_))));
    }

    #[test]
    fn groups_yes_includes_the_passwd_primary_gid() {
        let c = Credentials::resolve(Some("root"), Some("1"), true).unwrap();
        assert_eq!(c.gid(), Some(Gid::from_raw(1)));
        assert!(c.supplementary().contains(&Gid::from_raw(0)));
    }

    #[test]
    fn groups_without_user_clears() {
        let c = Credentials::resolve(None, Some("0"), true).unwrap();
        assert_eq!(c.uid(), None);
        assert!(c.supplementary().is_empty());
    }

    #[test]
    fn inherit_is_empty() {
        assert!(Credentials::inherit().is_inherit());
        assert!(!Credentials::numeric(Some(1), None, &[]).is_inherit());
        assert_eq!(
            Credentials::numeric(Some(7), None, &[]).gid(),
            Some(Gid::from_raw(7))
        );
    }
}
