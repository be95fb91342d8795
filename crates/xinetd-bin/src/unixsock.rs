//! Unix-domain listeners (extension `socket_path`): a socket file (or a Linux abstract name)
//! instead of an IP address and port.
//!
//! The socket file is the daemon's: it is made with the configured mode, owner and group
//! before listen(2), so no client connects before the permissions hold, and it is removed when
//! the listener is closed (daemon exit, a reload that drops or moves the service, a cps
//! pause). A file left at the path is replaced only when it is a socket nobody listens on (a
//! stale socket of an earlier run): a live socket or anything that is not a socket is an error
//! and is never unlinked.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

/// Where the listener lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixPath {
    /// A socket file.
    File(PathBuf),
    /// An abstract name (no file).
    Abstract(String),
}

/// Everything needed to open one Unix-domain listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSpec {
    /// The path or abstract name.
    pub path: UnixPath,
    /// `socket_mode`.
    pub mode: Option<u32>,
    /// `socket_owner` (uid).
    pub owner: Option<u32>,
    /// `socket_group` (gid).
    pub group: Option<u32>,
}

impl UnixSpec {
    /// From a configured service (`None` for IP services).
    pub fn of(o: &xinetd_conf::SocketOptions) -> Option<UnixSpec> {
        let path = match &o.socket_path.as_ref()?.value {
            xinetd_conf::UnixPath::File(p) => UnixPath::File(PathBuf::from(p)),
            xinetd_conf::UnixPath::Abstract(n) => UnixPath::Abstract(n.clone()),
        };
        Some(UnixSpec {
            path,
            mode: o.socket_mode.as_ref().map(|v| v.value),
            owner: o.socket_owner.as_ref().map(|v| v.value.id),
            group: o.socket_group.as_ref().map(|v| v.value.id),
        })
    }

    /// How logs and the dump name it.
    pub fn describe(&self) -> String {
        match &self.path {
            UnixPath::File(p) => p.display().to_string(),
            UnixPath::Abstract(n) => format!("@{n}"),
        }
    }
}

/// The socket file this daemon made; dropping it removes the file, if it is still the same
/// socket (another process may have replaced it).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

fn error(kind: io::ErrorKind, text: String) -> io::Error {
    io::Error::new(kind, text)
}

/// Clears the way for a socket file at `path`: nothing there, or a stale socket (removed).
fn clear_stale(path: &Path, stream: bool) -> io::Result<()> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !m.file_type().is_socket() {
        return Err(error(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket; not removed", path.display()),
        ));
    }
    // Someone listening answers a connect; a stale socket refuses it.
    let probe = if stream {
        std::os::unix::net::UnixStream::connect(path).map(drop)
    } else {
        std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.connect(path))
    };
    match probe {
        Ok(()) => Err(error(
            io::ErrorKind::AddrInUse,
            format!("{} is in use by another process", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// Opens, binds and (for stream) listens; the socket is close-on-exec and non-blocking.
pub fn open(
    spec: &UnixSpec,
    stream: bool,
    backlog: i32,
) -> io::Result<(Socket, Option<SocketFile>)> {
    let ty = if stream { Type::STREAM } else { Type::DGRAM };
    let sock = Socket::new(Domain::UNIX, ty, None)?;
    sock.set_nonblocking(true)?;
    let file = match &spec.path {
        UnixPath::Abstract(name) => {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(name.as_bytes());
            let addr = SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))?;
            sock.bind(&addr)?;
            None
        }
        UnixPath::File(path) => {
            clear_stale(path, stream)?;
            sock.bind(&SockAddr::unix(path)?)?;
            let m = std::fs::symlink_metadata(path)?;
            let file = SocketFile {
                path: path.clone(),
                dev: m.dev(),
                ino: m.ino(),
            };
            // Before listen(2): no client connects before the permissions hold. On failure
            // `file` is dropped and the socket file removed.
            if spec.owner.is_some() || spec.group.is_some() {
                std::os::unix::fs::lchown(path, spec.owner, spec.group)?;
            }
            if let Some(mode) = spec.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Some(file)
        }
    };
    if stream {
        sock.listen(backlog)?;
    }
    Ok((sock, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_sockets_are_replaced_and_others_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        let spec = UnixSpec {
            path: UnixPath::File(path.clone()),
            mode: Some(0o600),
            owner: None,
            group: None,
        };
        // A stale socket (bound, then closed without unlinking).
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        let (sock, file) = open(&spec, true, 8).expect("stale socket replaced");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A live one is not.
        let busy = open(&spec, true, 8).expect_err("in use");
        assert_eq!(busy.kind(), io::ErrorKind::AddrInUse, "{busy}");
        drop((sock, file));
        assert!(!path.exists(), "removed when closed");
        // Anything but a socket is never removed.
        std::fs::write(&path, "data").expect("regular file");
        let e = open(&spec, true, 8).expect_err("not a socket");
        assert!(e.to_string().contains("is not a socket"), "{e}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"data");
    }
}
