//! The command line: `Options::parse` and its checks.

use std::path::PathBuf;
use std::time::Duration;

use crate::{DEFAULT_TCP, SOCKET_NAME, USAGE};

/// Most shards `--workers` takes: far past any core count, short of silly.
const MAX_WORKERS: usize = 1024;
/// Most clients `--demo` runs (each holds two fds in this one process).
const MAX_DEMO: usize = 10_000;

/// Where to serve TLS, and with what certificate (read only with `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub struct TlsOptions {
    pub addr: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What the interactive server was asked for.
pub struct ServeOptions {
    pub tcp: String,
    pub unix: Option<PathBuf>,
    pub idle: Option<Duration>,
    pub stats_every: Option<Duration>,
    /// `--tls ADDR --tls-cert PEM --tls-key PEM` (feature `tls`).
    pub tls: Option<TlsOptions>,
    /// Shards of the group (`--workers`).
    pub workers: usize,
}

pub enum Options {
    Serve(ServeOptions),
    Demo { clients: usize, workers: usize },
}

impl Options {
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut args = args;
        let mut tcp = None;
        let mut unix = None;
        let mut no_unix = false;
        let mut demo = None;
        let mut idle = None;
        let mut stats_every = None;
        let mut workers = 1;
        let (mut tls_addr, mut tls_cert, mut tls_key) = (None, None, None);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--tcp" => tcp = Some(value("--tcp")?),
                "--unix" => unix = Some(PathBuf::from(value("--unix")?)),
                "--no-unix" => no_unix = true,
                "--idle-timeout" => {
                    idle = Some(seconds("--idle-timeout", &value("--idle-timeout")?)?)
                }
                "--tls" => tls_addr = Some(value("--tls")?),
                "--tls-cert" => tls_cert = Some(PathBuf::from(value("--tls-cert")?)),
                "--tls-key" => tls_key = Some(PathBuf::from(value("--tls-key")?)),
                "--stats-every" => {
                    stats_every = Some(seconds("--stats-every", &value("--stats-every")?)?)
                }
                "--demo" => demo = Some(count("--demo", "clients", &value("--demo")?, MAX_DEMO)?),
                "--workers" => {
                    workers = count("--workers", "shards", &value("--workers")?, MAX_WORKERS)?
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if no_unix && unix.is_some() {
            return Err(format!("--unix and --no-unix exclude each other\n{USAGE}"));
        }
        let tls = match (tls_addr, tls_cert, tls_key) {
            (None, None, None) => None,
            (Some(addr), Some(cert), Some(key)) if cfg!(feature = "tls") => {
                Some(TlsOptions { addr, cert, key })
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(format!(
                    "--tls needs the example built with `--features tls`\n{USAGE}"
                ))
            }
            _ => {
                return Err(format!(
                    "--tls, --tls-cert and --tls-key go together\n{USAGE}"
                ))
            }
        };
        if let Some(clients) = demo {
            if tcp.is_some()
                || unix.is_some()
                || no_unix
                || idle.is_some()
                || stats_every.is_some()
                || tls.is_some()
            {
                return Err(format!(
                    "--demo picks its own settings: no --tcp/--unix/--no-unix/--idle-timeout/--stats-every/--tls\n{USAGE}"
                ));
            }
            return Ok(Options::Demo { clients, workers });
        }
        let unix = match (no_unix, unix) {
            (true, _) => None,
            (false, Some(path)) => Some(path),
            (false, None) => Some(std::env::temp_dir().join(SOCKET_NAME)),
        };
        Ok(Options::Serve(ServeOptions {
            tcp: tcp.unwrap_or_else(|| DEFAULT_TCP.to_string()),
            unix,
            idle,
            stats_every,
            tls,
            workers,
        }))
    }
}

/// A whole number from 1 to `max` of `what`, for option `name`.
fn count(name: &str, what: &str, n: &str, max: usize) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} needs a number of {what} from 1 to {max}, not {n:?}\n{USAGE}"
        )),
    }
}

/// A positive number of seconds, for option `name`.
fn seconds(name: &str, secs: &str) -> Result<Duration, String> {
    match secs
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{name} needs a number of seconds > 0, not {secs:?}\n{USAGE}"
        )),
    }
}
