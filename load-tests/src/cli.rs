//! Command line: flags, their checks, and the loopback-only target URL.
//!
//! The URL check is the tool's safety catch: a load generator pointed at someone else's host is
//! an attack, so anything that is not 127.0.0.0/8, `::1` or `localhost` is refused before a
//! single packet leaves, and `localhost` is mapped to 127.0.0.1 ourselves instead of trusting
//! whatever a resolver or /etc/hosts says.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hyper::Uri;

use crate::cpu::{parse_watch, Watch};
use crate::formats;
use crate::payload::Installations;

#[derive(Parser, Debug)]
#[command(
    name = "tally-load",
    version,
    about = "Load generator for Tally (loopback only)",
    long_about = "Load generator for Tally (loopback only). Sends seeded Printernizer reports \
                  (or GET /health) over exactly C keep-alive HTTP/1.1 connections, in a closed \
                  or open loop, and prints one JSON report on stdout. Progress goes to stderr.\n\n\
                  Against a real server, lift its per-source limit (TALLY_IP_RATE_PER_MINUTE=0) \
                  or most answers will be 429."
)]
pub struct Args {
    /// Base URL of the server; only loopback hosts are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = parse_loopback_url)]
    pub url: TargetUrl,

    /// Ingest key, sent as X-API-Key on POST /submit.
    #[arg(long, env = "TALLY_LOAD_INGEST_KEY", hide_env_values = true)]
    pub key: Option<Secret>,

    /// Admin key, used to read GET /stats/summary before and after the run.
    #[arg(long, env = "TALLY_LOAD_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<Secret>,

    /// What to load: POST /submit, an event format's route, or GET /health for the HTTP
    /// stack's ceiling. capture: posthog-python's batches at /batch/; capture-single:
    /// franklinwh's single events at /capture/; events: Stories' batches; telemetry: IndexPilot.
    #[arg(long, value_enum, default_value_t = Target::Submit)]
    pub target: Target,

    /// closed: each connection sends as soon as its previous answer came; open: fixed arrivals.
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    pub mode: Mode,

    /// Arrival rate in requests per second (open mode), spread evenly over the connections.
    #[arg(long, required_if_eq("mode", "open"), value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Number of keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,

    /// Measured time, after the warm-up (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Time whose requests are sent but not recorded in the histogram.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Per-request timeout (Printernizer's client gives up after 10 s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Seed of the payload mix: the same seed sends the same bodies.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// fresh: a new installation per request; pool: N installations x W weekly reports (event
    /// formats: request k from installation k % N); known-seed: one report of each of N
    /// installations; known: their next week with --new-percent new installations among them;
    /// hot: N installations each sending --hot-requests, in rounds (event formats).
    #[arg(long, value_enum, default_value_t = InstallationsArg::Fresh)]
    pub installations: InstallationsArg,

    /// Installations in the pool (pool, known-seed, known and hot modes).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub pool: u32,

    /// Consecutive weekly reports per pool installation; the run ends once all are sent.
    /// At most 52 so every period stays inside the server's raw retention window.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=52))]
    pub weeks: u32,

    /// Share of requests from new installations in known mode.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub new_percent: u32,

    /// Requests of each installation in hot mode.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub hot_requests: u32,

    /// Events per batch (capture, events), drawn uniformly: MIN..MAX, or one number.
    #[arg(long, value_parser = parse_events)]
    pub batch_events: Option<RangeInclusive<u32>>,

    /// Share of event requests sent gzip-compressed (`Content-Encoding: gzip`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub gzip_percent: u64,

    /// Share of event requests that resend an earlier body unchanged (a client's retry).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub resend_percent: u64,

    /// Runtime worker threads. One is usually enough and leaves the other core to the server.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,

    /// A process tree whose CPU seconds in the measured window go in the report, as LABEL=PID
    /// (repeatable; Linux). The generator's own are always there, as `generator`.
    #[arg(long = "cpu-pid", value_name = "LABEL=PID", value_parser = parse_watch)]
    pub cpu_pids: Vec<Watch>,

    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
}

impl Args {
    /// The reports' installations (`--target submit`).
    pub fn installations(&self) -> Result<Installations, String> {
        let size = self.pool;
        Ok(match self.installations {
            InstallationsArg::Fresh => Installations::Fresh,
            InstallationsArg::Pool => Installations::Pool {
                size,
                weeks: self.weeks,
            },
            InstallationsArg::KnownSeed => Installations::KnownSeed { size },
            InstallationsArg::Known => Installations::Known {
                size,
                new_percent: self.new_percent,
            },
            InstallationsArg::Hot => return Err("--installations hot is for event formats".into()),
        })
    }

    /// The event formats' installations.
    pub fn event_installations(&self) -> Result<formats::Installations, String> {
        let size = self.pool;
        Ok(match self.installations {
            InstallationsArg::Fresh => formats::Installations::Fresh,
            InstallationsArg::Pool => formats::Installations::Pool { size },
            InstallationsArg::Hot => formats::Installations::Hot {
                size,
                each: self.hot_requests,
            },
            InstallationsArg::KnownSeed | InstallationsArg::Known => {
                return Err("--installations known and known-seed are for --target submit".into())
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Submit,
    Capture,
    CaptureSingle,
    Events,
    Telemetry,
    Health,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Closed,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InstallationsArg {
    Fresh,
    Pool,
    KnownSeed,
    Known,
    Hot,
}

// The names the report uses, the same as on the command line.
impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Submit => "submit",
            Target::Capture => "capture",
            Target::CaptureSingle => "capture-single",
            Target::Events => "events",
            Target::Telemetry => "telemetry",
            Target::Health => "health",
        }
    }
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Open => "open",
        }
    }
}

impl InstallationsArg {
    pub fn name(self) -> &'static str {
        match self {
            InstallationsArg::Fresh => "fresh",
            InstallationsArg::Pool => "pool",
            InstallationsArg::KnownSeed => "known-seed",
            InstallationsArg::Known => "known",
            InstallationsArg::Hot => "hot",
        }
    }
}

/// A key from the command line or environment. Its `Debug` hides the value so no log, panic
/// message or `{:?}` of `Args` can ever print it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Secret(s.to_owned()))
    }
}

/// A checked target: a loopback socket address, the Host header to send, and the path prefix
/// the routes hang under (empty unless the URL had a path, e.g. behind a local proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    pub addr: SocketAddr,
    pub host_header: String,
    pub path_prefix: String,
}

impl TargetUrl {
    pub fn path(&self, route: &str) -> String {
        format!("{}{route}", self.path_prefix)
    }
}

/// Accepts `http://` URLs whose host is 127.0.0.0/8, `[::1]` or `localhost`; refuses the rest.
pub fn parse_loopback_url(s: &str) -> Result<TargetUrl, String> {
    let uri: Uri = s.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "scheme {other}:// is not supported; use http:// (loopback, plain HTTP/1.1)"
            ))
        }
        None => return Err("the URL needs a scheme, e.g. http://127.0.0.1:8080".into()),
    }
    let authority = uri.authority().ok_or("the URL has no host")?;
    if authority.as_str().contains('@') {
        return Err("user information in the URL is not supported".into());
    }
    let host = authority.host();
    let ip = loopback_ip(host).ok_or_else(|| {
        format!(
            "refusing host {host}: tally-load only sends traffic to loopback \
             (127.0.0.0/8, ::1, localhost)"
        )
    })?;
    let path_prefix = uri.path().trim_end_matches('/').to_owned();
    Ok(TargetUrl {
        addr: SocketAddr::new(ip, authority.port_u16().unwrap_or(80)),
        host_header: authority.as_str().to_owned(),
        path_prefix,
    })
}

/// The address to connect to if `host` is loopback, without asking any resolver.
fn loopback_ip(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        // The server binds 127.0.0.1 by default (TALLY_BIND), so prefer it over ::1.
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().filter(IpAddr::is_loopback)
}

/// `30s`, `500ms`, `2m`, `1h`, `1.5s`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 30s, 500ms, 2m)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

/// `10..50` or `7`.
fn parse_events(s: &str) -> Result<RangeInclusive<u32>, String> {
    let bad = || format!("{s:?} is not MIN..MAX events (1 to 1000), e.g. 10..50");
    let (lo, hi) = s.split_once("..").unwrap_or((s, s));
    let (lo, hi): (u32, u32) = (
        lo.parse().map_err(|_| bad())?,
        hi.parse().map_err(|_| bad())?,
    );
    if lo == 0 || lo > hi || hi > 1000 {
        return Err(bad());
    }
    Ok(lo..=hi)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{s:?} is not a positive number of requests per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_check_refuses_a_private_address() {
        let refused = parse_loopback_url("http://10.0.0.1:8080").unwrap_err();
        assert!(refused.contains("refusing host 10.0.0.1"), "{refused}");
    }

    #[test]
    fn the_loopback_check_refuses_a_public_name() {
        assert!(parse_loopback_url("http://example.com").is_err());
        assert!(parse_loopback_url("http://localhost.example.com:8080").is_err());
        assert!(parse_loopback_url("http://0.0.0.0:8080").is_err());
        assert!(parse_loopback_url("http://[::ffff:10.0.0.1]:8080").is_err());
    }

    #[test]
    fn the_loopback_check_refuses_https_and_credentials() {
        assert!(parse_loopback_url("https://127.0.0.1:8443").is_err());
        assert!(parse_loopback_url("http://user:pw@127.0.0.1:8080").is_err());
    }

    #[test]
    fn the_loopback_check_accepts_127_addresses_and_localhost() {
        let ip = parse_loopback_url("http://127.0.0.1:1234").unwrap();
        assert_eq!(ip.addr, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(ip.host_header, "127.0.0.1:1234");
        let name = parse_loopback_url("http://localhost:8080").unwrap();
        assert_eq!(name.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(name.host_header, "localhost:8080");
        let v6 = parse_loopback_url("http://[::1]:9000").unwrap();
        assert_eq!(v6.addr, "[::1]:9000".parse().unwrap());
        assert!(parse_loopback_url("http://127.9.8.7").is_ok());
    }

    #[test]
    fn a_path_in_the_url_prefixes_every_route() {
        let under = parse_loopback_url("http://127.0.0.1:8080/tally/").unwrap();
        assert_eq!(under.path("/submit"), "/tally/submit");
        let bare = parse_loopback_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(bare.path("/submit"), "/submit");
    }

    #[test]
    fn durations_read_with_units_or_as_seconds() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 days").is_err());
    }

    #[test]
    fn batch_sizes_read_as_a_range_or_one_number() {
        assert_eq!(parse_events("10..50"), Ok(10..=50));
        assert_eq!(parse_events("1"), Ok(1..=1));
        assert!(parse_events("0..5").is_err());
        assert!(parse_events("50..10").is_err());
        assert!(parse_events("1..5000").is_err());
    }

    #[test]
    fn open_mode_needs_a_rate() {
        assert!(Args::try_parse_from(["tally-load", "--mode", "open"]).is_err());
        let args = Args::try_parse_from(["tally-load", "--mode", "open", "--rate", "200"]).unwrap();
        assert_eq!(args.rate, Some(200.0));
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let args =
            Args::try_parse_from(["tally-load", "--key", "hunter2", "--admin-key", "sesame"])
                .unwrap();
        let printed = format!("{args:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("sesame"),
            "{printed}"
        );
        assert_eq!(args.key.unwrap().expose(), "hunter2");
    }
}
