//! The server environment (F-121 `env`, F-122 `passenv`, F-410).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::SpawnError;

/// An ordered list of `NAME=VALUE` variables handed to `execve`.
///
/// Built once per service at configuration time with [`Environment::for_service`]; the
/// per-connection `REMOTE_HOST` is added by [`spawn`](crate::spawn) (F-410).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(OsString, OsString)>,
}

/// Result of [`Environment::for_service`]: the environment and the `passenv` names that were
/// absent from the start-up environment (xinetd warns `undefined environment variable: %s`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceEnvironment {
    /// The environment to put in the [`SpawnSpec`](crate::SpawnSpec).
    pub environment: Environment,
    /// `passenv` names not found in the start-up environment, in `passenv` order; skipped.
    pub undefined: Vec<OsString>,
}

impl Environment {
    /// An empty environment.
    pub fn new() -> Environment {
        Environment::default()
    }

    /// A snapshot of this process's environment. The daemon must take it at start-up, before
    /// it changes anything, because xinetd passes its *start-up* environment (F-410).
    pub fn startup() -> Environment {
        Environment::from_vars(std::env::vars_os())
    }

    /// An environment from `(name, value)` pairs; a later duplicate replaces an earlier one.
    pub fn from_vars<I, K, V>(vars: I) -> Environment
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut env = Environment::new();
        for (k, v) in vars {
            env.set(k, v);
        }
        env
    }

    /// The environment of one service, exactly as xinetd selects it (F-410):
    ///
    /// 1. `passenv` not set (`None`): the whole start-up environment;
    /// 2. `passenv` set (the caller merges the defaults' and the service's `=`/`+=`/`-=`
    ///    operations first): only those variables of the start-up environment, in `passenv`
    ///    order; an empty list passes nothing;
    /// 3. then every `env` entry (`NAME=VALUE`, the value may contain `=`) is added, replacing
    ///    a variable of the same name (F-121).
    ///
    /// `PATH` is not added automatically. An `env` entry without `=` is an error, as in xinetd.
    pub fn for_service<P, E>(
        startup: &Environment,
        passenv: Option<&[P]>,
        env: &[E],
    ) -> Result<ServiceEnvironment, SpawnError>
    where
        P: AsRef<OsStr>,
        E: AsRef<OsStr>,
    {
        let mut undefined = Vec::new();
        let mut environment = match passenv {
            None => startup.clone(),
            Some(names) => {
                let mut selected = Environment::new();
                for name in names {
                    let name = name.as_ref();
                    match startup.get(name) {
                        Some(value) => selected.set(name, value),
                        None => undefined.push(name.to_os_string()),
                    }
                }
                selected
            }
        };
        for entry in env {
            environment.set_entry(entry.as_ref())?;
        }
        Ok(ServiceEnvironment {
            environment,
            undefined,
        })
    }

    /// Adds or replaces one variable, keeping the position of a replaced one.
    pub fn set(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        let name = name.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    /// Adds or replaces a variable given as one `NAME=VALUE` word (the `env` attribute, F-121):
    /// the name ends at the first `=`.
    pub fn set_entry(&mut self, entry: &OsStr) -> Result<(), SpawnError> {
        let bytes = entry.as_bytes();
        let eq = bytes
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| SpawnError::EnvWithoutEquals(entry.to_string_lossy().into_owned()))?;
        let (name, value) = bytes.split_at(eq);
        let value = value.get(1..).unwrap_or_default();
        self.set(OsStr::from_bytes(name), OsStr::from_bytes(value));
        Ok(())
    }

    /// Removes a variable, if present.
    pub fn remove(&mut self, name: impl AsRef<OsStr>) {
        let name = name.as_ref();
        self.vars.retain(|(k, _)| k != name);
    }

    /// The value of a variable.
    pub fn get(&self, name: impl AsRef<OsStr>) -> Option<&OsStr> {
        let name = name.as_ref();
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
    }

    /// The variables in order.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// True when there is no variable.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Environment {
        Environment::from_vars([("PATH", "/bin"), ("HOME", "/root"), ("LANG", "C")])
    }

    fn names(env: &Environment) -> Vec<String> {
        env.iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect()
    }

    #[test]
    fn no_passenv_no_env_is_the_startup_environment() {
        let s = Environment::for_service::<&str, &str>(&startup(), None, &[]).unwrap();
        assert_eq!(s.environment, startup());
        assert!(s.undefined.is_empty());
    }

    #[test]
    fn env_adds_and_replaces_and_keeps_equals_in_values() {
        let s =
            Environment::for_service::<&str, _>(&startup(), None, &["LANG=fr", "B=x=y"]).unwrap();
        assert_eq!(
            names(&s.environment),
            ["PATH=/bin", "HOME=/root", "LANG=fr", "B=x=y"]
        );
    }

    #[test]
    fn passenv_selects_in_its_order_and_reports_undefined() {
        let s = Environment::for_service(&startup(), Some(&["LANG", "NOPE", "PATH"]), &["A=1"])
            .unwrap();
        assert_eq!(names(&s.environment), ["LANG=C", "PATH=/bin", "A=1"]);
        assert_eq!(s.undefined, ["NOPE"]);
    }

    #[test]
    fn empty_passenv_passes_nothing() {
        let s = Environment::for_service::<&str, &str>(&startup(), Some(&[]), &[]).unwrap();
        assert!(s.environment.is_empty());
    }

    #[test]
    fn env_without_equals_is_an_error() {
        let r = Environment::for_service::<&str, _>(&startup(), None, &["JUSTNAME"]);
        assert!(matches!(r, Err(SpawnError::EnvWithoutEquals(ref s)) if s == "JUSTNAME"));
    }

    #[test]
    fn empty_value_and_remove() {
        let mut e = startup();
        e.set_entry(OsStr::new("EMPTY=")).unwrap();
        assert_eq!(e.get("EMPTY"), Some(OsStr::new("")));
        e.remove("EMPTY");
        assert_eq!(e.get("EMPTY"), None);
        assert_eq!(e.len(), 3);
    }
}
