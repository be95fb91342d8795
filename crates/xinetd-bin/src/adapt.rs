//! Converts the xinetd-conf model into the inputs of the other libraries (the libraries do
//! not depend on each other; the binary composes them, see docs/ARCHITECTURE.md).

use std::cell::RefCell;
use std::time::Duration;

use xinetd_conf as conf;
use xinetd_conf::{ServiceFlag, SocketType};

use crate::internal::Builtin;
use crate::listen::{Family, ListenSpec};
use crate::service::{Built, Runtime, Server};
use crate::slog::{CommonLogs, Destination, ServiceLog};

/// What the services of one configuration load share: the "common" FILE logs (F-711) and
/// the user/group lookups (a hundred `user = root` services read /etc/passwd once, not a
/// hundred times: start-up time, issue 7).
#[derive(Default)]
pub struct LoadCache {
    /// The shared FILE logs of `defaults`.
    pub common: CommonLogs,
    /// Services whose `log_type = JOURNAL` fell back to syslog because the journal socket
    /// is absent (one warning per load names them all).
    pub journal_absent: Vec<String>,
    credentials: Vec<(CredentialsKey, xinetd_spawn::Credentials)>,
    /// Ids of the services skipped because a TLS file could not be used (a reload keeps
    /// their running configuration, issue 15).
    pub tls_failed: Vec<String>,
    /// One copy of each distinct server environment.
    envs: xinetd_spawn::SharedEnvironments,
}

/// `user`, `group`, `groups` as written in the service.
type CredentialsKey = (Option<String>, Option<String>, bool);

impl LoadCache {
    fn credentials(
        &mut self,
        user: Option<&str>,
        group: Option<&str>,
        groups: bool,
    ) -> Result<xinetd_spawn::Credentials, xinetd_spawn::SpawnError> {
        let key = (user.map(str::to_owned), group.map(str::to_owned), groups);
        if let Some((_, c)) = self.credentials.iter().find(|(k, _)| *k == key) {
            return Ok(c.clone());
        }
        let c = xinetd_spawn::Credentials::resolve(user, group, groups)?;
        self.credentials.push((key, c.clone()));
        Ok(c)
    }
}

/// Builds the runtime service; `Err` is the message to log (the service is skipped). The
/// model entry moves into the service (a copy per service would stay resident: idle memory,
/// issue 7). The result is `Send`: a reload runs this on a worker thread (issue 16).
pub fn service(
    owned: Box<conf::Service>,
    startup_env: &xinetd_spawn::Environment,
    resolver: &dyn xinetd_acl::Resolver,
    cache: &mut LoadCache,
) -> Result<Built, String> {
    let c = &owned;
    let id = c.id.value.clone();
    let name = c.name.value.clone();
    let stream = match c.socket_type.value {
        SocketType::Stream => true,
        SocketType::Dgram => false,
        other => {
            return Err(format!(
                "service {id}: socket_type {} is not supported by xinetd-rs",
                other.as_str()
            ))
        }
    };
    // TCPMUX clients have no socket of their own (F-064): port 0, never bound.
    let port = match c.port.as_ref() {
        Some(p) => p.value,
        None if c.is_tcpmux_client() => 0,
        // Extension: a Unix-domain listener has a path, not a port.
        None if c.socket.is_unix() => 0,
        // F-976: RPC services listen on a port the kernel chooses (registered by crate::rpc).
        None if c.has_type(conf::ServiceType::Rpc) => 0,
        None => return Err(format!("service {id}: no port")),
    };
    let listen = ListenSpec {
        stream,
        bind: c.bind.as_ref().map(|b| b.value.address),
        family: match c.family {
            conf::AddressFamily::Ipv4 => Family::V4,
            conf::AddressFamily::Ipv6 => Family::V6,
        },
        port,
        v6only: c.v6only.as_ref().map(|v| v.value),
        keepalive: c.has_flag(ServiceFlag::KeepAlive),
        nodelay: c.has_flag(ServiceFlag::NoDelay),
        bind_device: c.bind_device.as_ref().map(|d| d.value.clone()),
        tuning: conf::Extension::new(crate::sockopt::Tuning {
            scope: c.bind.as_ref().and_then(|b| b.value.scope.clone()),
            ..crate::sockopt::tuning(&c.socket)
        }),
    };
    let sensor = c.has_flag(ServiceFlag::Sensor);
    let server = match c.builtin {
        _ if sensor => Server::Sensor,
        _ if c.redirect.is_some() => {
            let r = &c.redirect.as_ref().expect("checked by the guard").value;
            Server::Redirect(std::net::SocketAddr::new(r.address, r.port))
        }
        Some(conf::Builtin::Sensor) => Server::Sensor,
        Some(conf::Builtin::Echo) => Server::Internal(Builtin::Echo),
        Some(conf::Builtin::Discard) => Server::Internal(Builtin::Discard),
        Some(conf::Builtin::Daytime) => Server::Internal(Builtin::Daytime),
        Some(conf::Builtin::Time) => Server::Internal(Builtin::Time),
        Some(conf::Builtin::Chargen) => Server::Internal(Builtin::Chargen),
        Some(conf::Builtin::Tcpmux) => Server::Internal(Builtin::Tcpmux),
        Some(conf::Builtin::Servers) => Server::Internal(Builtin::Servers),
        Some(conf::Builtin::Services) => Server::Internal(Builtin::Services),
        Some(conf::Builtin::Xadmin) => Server::Internal(Builtin::Xadmin),
        Some(conf::Builtin::Metrics) => Server::Internal(Builtin::Metrics),
        // conf::Builtin is non_exhaustive: a builtin the model learns before this daemon
        // does is skipped with a message, like any other service it cannot run.
        Some(other) => {
            return Err(format!(
                "service {id}: builtin {other:?} is not supported by xinetd-rs"
            ))
        }
        None => Server::External,
    };
    let spawn = if server == Server::External {
        let mut spec = spawn_spec(c)?.build_with(startup_env, cache)?;
        spec.share_environment(&mut cache.envs);
        Some(std::sync::Arc::new(spec))
    } else {
        None
    };
    let access = access_policy(c, resolver)?;
    let proxy = crate::proxied::Policy::of(c, resolver)?.map(Box::new);
    let limits = service_limits(c, sensor);
    let log = service_log(c, cache)?;
    let tls = match crate::tls::load(&c.tls) {
        Ok(t) => t.map(std::sync::Arc::new),
        Err(e) => {
            cache.tls_failed.push(id.clone());
            return Err(format!("service {id}: {e}"));
        }
    };
    Ok(Built {
        id,
        name,
        listen,
        wait: c.wait.value,
        server,
        timeout: c
            .timeout
            .as_ref()
            .filter(|t| t.value > 0)
            .map(|t| Duration::from_secs(t.value.into())),
        rt: Box::new(Runtime {
            conf: owned,
            access,
            spawn,
            limits,
            log: RefCell::new(log),
            proxy,
            tls,
        }),
    })
}

/// What a spawn spec needs besides the start-up environment.
struct SpawnParts<'a> {
    c: &'a conf::Service,
    server: String,
}

fn spawn_spec(c: &conf::Service) -> Result<SpawnParts<'_>, String> {
    let Some(server) = c.server.as_ref().map(|s| s.value.clone()) else {
        return Err(format!("service {}: no server", c.id.value));
    };
    Ok(SpawnParts { c, server })
}

impl SpawnParts<'_> {
    fn build_with(
        self,
        startup: &xinetd_spawn::Environment,
        cache: &mut LoadCache,
    ) -> Result<xinetd_spawn::SpawnSpec, String> {
        use xinetd_spawn::{Rlimit, RlimitValue};
        let c = self.c;
        let id = &c.id.value;
        let err = |e: xinetd_spawn::SpawnError| format!("service {id}: {e}");
        let args: Vec<String> = c
            .server_args
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        let argv = xinetd_spawn::server_argv(
            self.server.as_ref(),
            &args,
            c.has_flag(ServiceFlag::NameInArgs),
        )
        .map_err(err)?;
        let env_words = env_words(c);
        let passenv = c.passenv.as_ref().map(|p| p.value.clone());
        let env = xinetd_spawn::Environment::for_service(startup, passenv.as_deref(), &env_words)
            .map_err(err)?;
        let creds = cache
            .credentials(
                c.user.as_ref().map(|u| u.value.text.as_str()),
                c.group.as_ref().map(|g| g.value.text.as_str()),
                c.groups.value,
            )
            .map_err(err)?;
        let mut b = xinetd_spawn::SpawnSpec::builder(&self.server)
            .argv(argv)
            .environment(env.environment)
            .credentials(creds);
        if let Some(u) = &c.umask {
            b = b.umask(u.value);
        }
        if let Some(n) = &c.nice {
            b = b.nice(n.value);
        }
        let value = |r: &conf::Rlimit| match r {
            conf::Rlimit::Unlimited => RlimitValue::Unlimited,
            conf::Rlimit::Value(n) => RlimitValue::Limit(*n),
        };
        let limits = [
            (Rlimit::As, &c.rlimits.address_space),
            (Rlimit::Cpu, &c.rlimits.cpu),
            (Rlimit::Data, &c.rlimits.data),
            (Rlimit::Rss, &c.rlimits.rss),
            (Rlimit::Stack, &c.rlimits.stack),
        ];
        for (which, v) in limits {
            // xinetd treats 0 as "not set" (F-133).
            if let Some(v) = v.as_ref().filter(|v| v.value != conf::Rlimit::Value(0)) {
                b = b.rlimit(which, value(&v.value));
            }
        }
        if let Some(v) = c.rlimits.files.as_ref() {
            b = b.rlimit_files(value(&v.value));
        }
        if let Some(dir) = &c.chroot {
            b = b.chroot(&dir.value);
        }
        if c.activation.as_ref().map(|a| a.value) == Some(conf::Activation::ListenFds) {
            // Extension: the listening socket as fd 3 with LISTEN_FDNAMES = the service id.
            b = b.listen_fds(&c.id.value);
        }
        if !c.sandbox.is_empty() {
            b = b.sandbox(
                crate::sandbox::request(&c.sandbox).map_err(|e| format!("service {id}: {e}"))?,
            );
        }
        b.build().map_err(err)
    }
}

/// only_from / no_access / access_times as an xinetd-acl policy. Host names are resolved
/// here, at load time, as xinetd does at parse time (F-205).
fn access_policy(
    c: &conf::Service,
    resolver: &dyn xinetd_acl::Resolver,
) -> Result<xinetd_acl::AccessPolicy, String> {
    let id = &c.id.value;
    let list = |l: &Option<conf::Spanned<conf::AddressList>>| -> Result<Option<xinetd_acl::AccessList>, String> {
        let Some(l) = l else {
            return Ok(None);
        };
        let words = l
            .value
            .iter()
            .filter(|e| e.form != conf::AddressForm::Unparsed)
            .map(|e| e.text.as_str());
        let (list, _warnings) = xinetd_acl::AccessList::from_values(words, resolver)
            .map_err(|e| format!("service {id}: {}", e.text()))?;
        Ok(Some(list))
    };
    let only_from = list(&c.only_from)?;
    let no_access = list(&c.no_access)?;
    let times = match &c.access_times {
        None => None,
        Some(t) => {
            let texts: Vec<String> = t
                .value
                .iter()
                .map(|i| {
                    format!(
                        "{}:{:02}-{}:{:02}",
                        i.start_minute / 60,
                        i.start_minute % 60,
                        i.end_minute / 60,
                        i.end_minute % 60
                    )
                })
                .collect();
            Some(
                xinetd_acl::AccessTimes::parse(texts.iter().map(String::as_str))
                    .map_err(|e| format!("service {id}: {}", e.text()))?,
            )
        }
    };
    Ok(xinetd_acl::AccessPolicy::new(only_from, no_access, times))
}

/// instances / per_source / cps / max_load / SENSOR for xinetd-limits.
/// The `env` attribute as `NAME=VALUE` words (F-121), as the server gets and the dump shows
/// them.
pub fn env_words(c: &conf::Service) -> Vec<String> {
    c.env
        .as_ref()
        .map(|e| {
            e.value
                .iter()
                .map(|v| format!("{}={}", v.name, v.value))
                .collect()
        })
        .unwrap_or_default()
}

fn service_limits(c: &conf::Service, sensor: bool) -> xinetd_limits::ServiceLimits {
    let limit = |l: &conf::Limit| match l {
        conf::Limit::Unlimited => None,
        conf::Limit::Max(n) => Some(*n),
    };
    // xinetd names the service, not its id, in the cps deactivation/activation lines.
    let mut l = xinetd_limits::ServiceLimits::new(c.name.value.clone());
    l.instances = limit(&c.instances.value);
    l.per_source = limit(&c.per_source.value);
    l.cps = xinetd_limits::Cps::new(c.cps.value.rate, c.cps.value.wait_secs);
    l.max_load = c
        .max_load
        .as_ref()
        .and_then(|m| xinetd_limits::MaxLoad::new(m.value).ok());
    // The loader keeps the lengths in range, so `new` only fails on a model built by hand.
    if let Some(p) = &c.source_prefix {
        if let Ok(p) = xinetd_limits::SourcePrefix::new(p.value.v4, p.value.v6) {
            l.source_prefix = p;
        }
    }
    if sensor {
        l.sensor = Some(match c.deny_time.value {
            conf::DenyTime::Never => xinetd_limits::DenyTime::Never,
            conf::DenyTime::Forever => xinetd_limits::DenyTime::Forever,
            conf::DenyTime::Minutes(m) => {
                match u32::try_from(m).ok().and_then(std::num::NonZeroU32::new) {
                    Some(n) => xinetd_limits::DenyTime::Minutes(n),
                    None if m < 0 => xinetd_limits::DenyTime::Forever,
                    None => xinetd_limits::DenyTime::Never,
                }
            }
        });
    }
    l
}

/// The service log from `log_type`, `log_on_success`, `log_on_failure` (F-710..F-726).
fn service_log(c: &conf::Service, cache: &mut LoadCache) -> Result<ServiceLog, String> {
    use xinetd_log::{FileLimits, FileLog, LogOnFailure, LogOnSuccess, ServiceRecords, SyslogLog};
    let common = &mut cache.common;
    let id = &c.id.value;
    let err = |e: xinetd_log::LogError| format!("service {id}: {e}");
    let on_success =
        LogOnSuccess::from_words(c.log_on_success.value.iter().map(|f| f.as_str())).map_err(err)?;
    let on_failure =
        LogOnFailure::from_words(c.log_on_failure.value.iter().map(|f| f.as_str())).map_err(err)?;
    let records = ServiceRecords::new(id.clone(), on_success, on_failure);
    let dest = match c.log_type.as_ref().map(|l| &l.value) {
        None => None,
        Some(conf::LogType::File {
            path,
            soft_limit,
            hard_limit,
            shared,
            format,
        }) => {
            let format = match format {
                conf::LogFormat::Text => xinetd_log::FileFormat::Text,
                conf::LogFormat::Json => xinetd_log::FileFormat::Json,
            };
            let limits = match soft_limit {
                Some(soft) => Some(FileLimits::new(*soft, *hard_limit).map_err(err)?),
                None => None,
            };
            if *shared {
                // F-711: inherited from defaults, the one "common" file of all such services.
                Some(Destination::Common(
                    common
                        .get(std::path::Path::new(path), limits, format)
                        .map_err(err)?,
                ))
            } else {
                let (file, _diags) = FileLog::open(path, id.clone(), limits).map_err(err)?;
                Some(Destination::Own(Box::new(xinetd_log::ServiceLog::File(
                    file.with_format(format),
                ))))
            }
        }
        Some(conf::LogType::Syslog { facility, level }) => {
            let facility: xinetd_log::Facility = facility.as_str().parse().map_err(err)?;
            let level: xinetd_log::Level = level.as_str().parse().map_err(err)?;
            Some(Destination::Own(Box::new(xinetd_log::ServiceLog::Syslog(
                SyslogLog::new(facility, level, id.clone()),
            ))))
        }
        Some(conf::LogType::Journal { facility, level }) => {
            let facility: xinetd_log::Facility = facility.as_str().parse().map_err(err)?;
            let level: xinetd_log::Level = level.as_str().parse().map_err(err)?;
            let path = xinetd_log::journal_socket_path();
            let log = if xinetd_log::journal_present(&path) {
                xinetd_log::ServiceLog::Journal(xinetd_log::JournalLog::new(
                    facility,
                    level,
                    id.clone(),
                    &path,
                ))
            } else {
                // No journald (a container, a system without systemd): the same records
                // at the same facility and level through syslog, with one warning.
                cache.journal_absent.push(id.clone());
                xinetd_log::ServiceLog::Syslog(SyslogLog::new(facility, level, id.clone()))
            };
            Some(Destination::Own(Box::new(log)))
        }
    };
    Ok(ServiceLog::new(records, dest))
}
