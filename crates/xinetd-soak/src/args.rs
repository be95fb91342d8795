//! The command line: `xinetd-soak --candidate PATH [--xinetd PATH] [--scale F] [--only A,B]`.

use std::path::PathBuf;

use crate::scenario::Scenario;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The daemon under test (`target/release/xinetd`).
    pub candidate: PathBuf,
    /// The reference daemon run on the same scenarios (`/usr/sbin/xinetd`), if any.
    pub xinetd: Option<PathBuf>,
    /// Multiplies every count (and time cap); 1.0 reproduces issue 17's numbers.
    pub scale: f64,
    /// The scenarios to run, in this order (default: all).
    pub only: Vec<Scenario>,
    /// `--keep DIR`: the daemons' directories (configurations, logs) go there and stay,
    /// instead of a temporary directory removed at the end.
    pub keep: Option<PathBuf>,
}

/// The outcome of parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Run the soak.
    Run(Options),
    /// `--help`: print [`USAGE`].
    Help,
}

/// The usage text.
pub const USAGE: &str = "\
usage: xinetd-soak --candidate PATH [--xinetd PATH] [--scale F] [--only SCENARIO,...]

Runs each scenario against the candidate daemon (and, with --xinetd, against that daemon
too, e.g. /usr/sbin/xinetd), on 127.0.0.1 only, and prints one markdown table.
  --scale F   multiplies counts and time caps (default 0.1, about a minute per daemon;
              1 reproduces issue 17's numbers)
  --keep DIR  keep the daemons' configurations and logs in DIR
  --only L    comma-separated scenario names: ";

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, String> {
    let mut candidate = None;
    let mut xinetd = None;
    let mut scale = 0.1;
    let mut only = Scenario::ALL.to_vec();
    let mut keep = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("option {arg} needs a value"))
        };
        match arg.as_str() {
            "--candidate" => candidate = Some(PathBuf::from(value()?)),
            "--xinetd" => xinetd = Some(PathBuf::from(value()?)),
            "--keep" => keep = Some(PathBuf::from(value()?)),
            "--scale" => {
                let v = value()?;
                scale = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 10.0)
                    .ok_or_else(|| format!("--scale: '{v}' is not a number in (0, 10]"))?;
            }
            "--only" => {
                only = value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Scenario::from_name(s).ok_or_else(|| format!("unknown scenario '{s}'"))
                    })
                    .collect::<Result<_, _>>()?;
                if only.is_empty() {
                    return Err("--only needs at least one scenario".into());
                }
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let candidate = candidate.ok_or("--candidate PATH is required")?;
    Ok(Parsed::Run(Options {
        candidate,
        xinetd,
        scale,
        only,
        keep,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_all_options() {
        let Ok(Parsed::Run(o)) = p(&["--candidate", "x"]) else {
            panic!("parsed")
        };
        assert_eq!(o.candidate, PathBuf::from("x"));
        assert_eq!(o.xinetd, None);
        assert_eq!(o.scale, 0.1);
        assert_eq!(o.only, Scenario::ALL.to_vec());
        assert_eq!(o.keep, None);

        let Ok(Parsed::Run(o)) = p(&[
            "--candidate",
            "x",
            "--xinetd",
            "/usr/sbin/xinetd",
            "--scale",
            "1",
            "--only",
            "sigterm,flood",
            "--keep",
            "/tmp/k",
        ]) else {
            panic!("parsed")
        };
        assert_eq!(o.xinetd, Some(PathBuf::from("/usr/sbin/xinetd")));
        assert_eq!(o.scale, 1.0);
        assert_eq!(o.only, vec![Scenario::Sigterm, Scenario::Flood]);
        assert_eq!(o.keep, Some(PathBuf::from("/tmp/k")));
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(p(&[]).is_err());
        assert!(p(&["--candidate"]).is_err());
        assert!(p(&["--candidate", "x", "--scale", "0"]).is_err());
        assert!(p(&["--candidate", "x", "--scale", "nan"]).is_err());
        assert!(p(&["--candidate", "x", "--only", "nosuch"]).is_err());
        assert!(p(&["--candidate", "x", "--bogus"]).is_err());
        assert_eq!(p(&["--help"]), Ok(Parsed::Help));
    }
}
