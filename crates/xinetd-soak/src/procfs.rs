//! What the table reports about a daemon, read from /proc: resident memory, open
//! descriptors, CPU time, children and zombies. The parsers are pure functions of the file
//! texts so they are tested without a process.

use std::path::Path;

/// The fields of `/proc/PID/stat` the soak uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name (without the parentheses).
    pub comm: String,
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// User time in clock ticks.
    pub utime: u64,
    /// System time in clock ticks.
    pub stime: u64,
}

/// Parses `/proc/PID/stat`. The command name may contain spaces and parentheses, so the
/// fields are counted from the *last* `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    Some(Stat {
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
    })
}

/// The value in kB of a `Name:   123 kB` line of `/proc/PID/status`.
pub fn parse_status_kib(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `/proc/PID/stat` of a live process.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// VmRSS in KiB.
pub fn rss_kib(pid: i32) -> Option<u64> {
    parse_status_kib(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        "VmRSS",
    )
}

/// Open descriptors (entries of `/proc/PID/fd`).
pub fn fd_count(pid: i32) -> Option<u64> {
    let n = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    u64::try_from(n).ok()
}

/// User + system time so far, all threads, in clock ticks.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.utime + s.stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn clk_tck() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)
        .unwrap_or(100)
}

/// A process of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its stat fields.
    pub stat: Stat,
}

/// Every process whose parent is `ppid`.
pub fn children(ppid: i32) -> Vec<Proc> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = stat(pid)?;
        (stat.ppid == ppid).then_some(Proc { pid, stat })
    })
    .collect()
}

/// (children, of which zombies) of `ppid`.
pub fn children_and_zombies(ppid: i32) -> (u64, u64) {
    let kids = children(ppid);
    let zombies = kids.iter().filter(|p| p.stat.state == 'Z').count();
    (kids.len() as u64, zombies as u64)
}

/// True while `/proc/PID` exists (a zombie counts as alive).
pub fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_tricky_command_name() {
        let text = "11681 (cat (x) y) R 11675 11675 6695 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 \
                    146423 3133440 360 18446744073709551615 0\n";
        let s = parse_stat(text).expect("parsed");
        assert_eq!(s.comm, "cat (x) y");
        assert_eq!(s.state, 'R');
        assert_eq!(s.ppid, 11675);
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) Z"), None);
    }

    #[test]
    fn status_values() {
        let text = "Name:\txinetd\nVmHWM:\t    2144 kB\nVmRSS:\t    2100 kB\nThreads:\t1\n";
        assert_eq!(parse_status_kib(text, "VmRSS"), Some(2100));
        assert_eq!(parse_status_kib(text, "VmHWM"), Some(2144));
        assert_eq!(parse_status_kib(text, "VmSwap"), None);
        assert_eq!(parse_status_kib("VmRSSx: 1 kB\n", "VmRSS"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let me = i32::try_from(std::process::id()).expect("pid");
        assert!(rss_kib(me).is_some_and(|k| k > 0));
        assert!(fd_count(me).is_some_and(|n| n >= 3));
        assert!(cpu_ticks(me).is_some());
        assert!(exists(me));
        assert!(clk_tck() > 0);
    }
}
