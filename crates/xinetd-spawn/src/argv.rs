//! argv construction for `server` + `server_args` (F-111, F-112, F-113, F-143).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::SpawnError;

/// Builds a server's argv the way xinetd does (F-413).
///
/// Without `NAMEINARGS` argv is `[basename(server), server_args...]`; with it, argv is exactly
/// `server_args` and its first word becomes argv\[0\] (tcpd style, F-143), which is why an empty
/// `server_args` is an error then.
///
/// ```
/// use std::path::Path;
/// use xinetd_spawn::server_argv;
/// let argv = server_argv(Path::new("/usr/sbin/in.ftpd"), &["-l", "-a"], false).unwrap();
/// assert_eq!(argv, ["in.ftpd", "-l", "-a"]);
/// let argv = server_argv(Path::new("/usr/sbin/tcpd"), &["in.ftpd", "-l"], true).unwrap();
/// assert_eq!(argv, ["in.ftpd", "-l"]);
/// ```
pub fn server_argv<S: AsRef<OsStr>>(
    server: &Path,
    server_args: &[S],
    name_in_args: bool,
) -> Result<Vec<OsString>, SpawnError> {
    let args = server_args.iter().map(|a| a.as_ref().to_os_string());
    if name_in_args {
        if server_args.is_empty() {
            return Err(SpawnError::EmptyArgv);
        }
        return Ok(args.collect());
    }
    let mut argv = Vec::with_capacity(server_args.len() + 1);
    argv.push(basename(server));
    argv.extend(args);
    Ok(argv)
}

/// The last path component, as xinetd's `strrchr(server, '/') + 1`: the whole string when it
/// has no `/`, and an empty string for a path ending in `/`.
fn basename(server: &Path) -> OsString {
    let bytes = server.as_os_str().as_bytes();
    let tail = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => bytes.get(i + 1..).unwrap_or_default(),
        None => bytes,
    };
    OsStr::from_bytes(tail).to_os_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_like_xinetd() {
        assert_eq!(basename(Path::new("/bin/cat")), "cat");
        assert_eq!(basename(Path::new("cat")), "cat");
        assert_eq!(basename(Path::new("/usr/")), "");
    }

    #[test]
    fn no_args_gives_just_the_basename() {
        let argv = server_argv::<&str>(Path::new("/bin/true"), &[], false).unwrap();
        assert_eq!(argv, ["true"]);
    }

    #[test]
    fn nameinargs_without_args_is_an_error() {
        let r = server_argv::<&str>(Path::new("/usr/sbin/tcpd"), &[], true);
        assert!(matches!(r, Err(SpawnError::EmptyArgv)));
    }

    #[test]
    fn hash_and_quotes_are_literal_words() {
        let argv = server_argv(Path::new("/bin/echo"), &["#x", "\"a"], false).unwrap();
        assert_eq!(argv, ["echo", "#x", "\"a"]);
    }
}
