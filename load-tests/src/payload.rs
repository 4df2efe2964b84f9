//! Request bodies: realistic Printernizer `AggregatedStats` reports (CONTRACT.md, "The
//! submission body"), written straight into a reused buffer.
//!
//! Body `k` of a run is a pure function of `(seed, k, now)`, whichever connection sends it, so
//! the same seed replays the same bodies (only `now` moves). Writing is a handful of `write!`
//! calls into a `BytesMut`: no JSON tree, no per-body allocation once the buffer is warm, which
//! matters because the generator shares two cores with the server and Postgres.
//!
//! Three ways to choose installations:
//! - `Fresh`: every body is a new installation with its own period, so every 200 is a new row.
//! - `Pool { size, weeks }`: `size` installations fixed by the seed, each sending `weeks`
//!   consecutive weekly reports. Body `k` is installation `k % size`, week `k / size`: every
//!   (installation, week) pair once, round-robin, so one installation's reports are spread over
//!   the run instead of arriving back to back.
//! - `KnownSeed` then `Known`: a realistic week. The seed run introduces `size` installations
//!   (week 0); the measured run sends their week 1, with a share of new installations among
//!   them, so most reports are of installations the server already knows.

use std::fmt::{self, Write};

use bytes::BytesMut;
use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};
use uuid::Uuid;

use crate::rng::SplitMix64;

/// Room for the largest body we write (~950 bytes), so writing never grows the buffer.
pub const BODY_CAPACITY: usize = 1536;

/// How the bodies pick their installations (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installations {
    Fresh,
    Pool {
        size: u32,
        weeks: u32,
    },
    /// The week before a `Known` run: one report of each of `size` installations, then the end.
    KnownSeed {
        size: u32,
    },
    /// The next week of the `size` installations `KnownSeed` introduced, each once, with
    /// `new_percent` of the requests from new installations among them; ends when the known
    /// installations have all reported.
    Known {
        size: u32,
        new_percent: u32,
    },
}

/// What the server stores a request under, so that a resend is not counted twice when we
/// compare with the database: a report's installation and period start (one row per pair), an
/// event batch's number (a resend carries its original's; `at_micros` is then 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub id: u128,
    pub at_micros: i64,
}

/// What one request carried: its identity, the events it counts (a report counts one), and
/// whether its body is gzip-compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub identity: Identity,
    pub events: u64,
    pub gzip: bool,
}

/// The two datetime spellings Printernizer's client produces (`str(datetime)` and
/// `datetime.isoformat()`); both must be accepted, so both are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DateForm {
    Space,
    T,
}

/// Displays a naive UTC datetime the way Python does: microseconds, omitted when zero.
struct Stamp(NaiveDateTime, DateForm);

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Stamp(t, form) = self;
        let sep = match form {
            DateForm::Space => ' ',
            DateForm::T => 'T',
        };
        write!(
            f,
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        match t.nanosecond() / 1000 {
            0 => Ok(()),
            micros => write!(f, ".{micros:06}"),
        }
    }
}

const PLATFORMS: &[(&str, u32)] = &[("linux", 70), ("windows", 15), ("darwin", 15)];
const DEPLOYMENTS: &[(&str, u32)] = &[
    ("homeassistant", 40),
    ("docker", 35),
    ("pi", 15),
    ("standalone", 10),
];
const COUNTRIES: &[(&str, u32)] = &[
    ("DE", 35),
    ("US", 15),
    ("GB", 12),
    ("FR", 10),
    ("IT", 7),
    ("ES", 6),
    ("JP", 5),
    ("AU", 5),
    ("XX", 5),
];
const VERSIONS: &[(&str, u32)] = &[
    ("2.41.2", 40),
    ("2.41.1", 20),
    ("2.40.0", 15),
    ("2.41.2-3-gabc1234", 10),
    ("2.41.2-dirty", 5),
    ("2.7.0", 10),
];
/// Release versions and the one a pool installation may step up to during its weeks.
const UPGRADES: &[(&str, &str)] = &[
    ("2.7.0", "2.40.0"),
    ("2.40.0", "2.41.1"),
    ("2.41.1", "2.41.2"),
];
const PYTHONS: &[(&str, u32)] = &[("3.12.3", 60), ("3.11.9", 40)];
const PRINTER_TYPES: [&str; 4] = ["bambu_lab", "prusa_core", "octoprint", "unknown"];
const PRINTER_WEIGHTS: &[(usize, u32)] = &[(0, 45), (1, 30), (2, 15), (3, 10)];
const FEATURES: [&str; 5] = [
    "library_enabled",
    "timelapse_enabled",
    "auto_job_creation_enabled",
    "german_compliance_enabled",
    "watch_folders_enabled",
];

const WEEK: TimeDelta = TimeDelta::days(7);
/// Stream tags, so a fresh body and a pool installation with the same index never share draws.
const FRESH_BODY: u64 = 1;
const POOL_INSTALLATION: u64 = 2;
const POOL_WEEK: u64 = 3;

/// What an installation is, as opposed to what it did in a given week. In pool mode this is
/// drawn once per installation so platform, country and version stay stable across weeks.
#[derive(Clone, Debug)]
struct Profile {
    id: Uuid,
    first_seen: NaiveDateTime,
    form: DateForm,
    version: &'static str,
    /// From this week on the installation runs the second version.
    upgrade: Option<(u32, &'static str)>,
    python: &'static str,
    platform: &'static str,
    deployment: &'static str,
    country: &'static str,
    /// Printers per type, in `PRINTER_TYPES` order.
    fleet: [u8; 4],
    features: [bool; 5],
    /// How long before the pool's weekly boundary this installation's periods end, so the
    /// installations do not all report the very same instant.
    end_offset: TimeDelta,
}

impl Profile {
    /// `first_seen` lands up to a year before `earliest_start`; `weeks` bounds the upgrade week.
    fn draw(rng: &mut SplitMix64, earliest_start: NaiveDateTime, weeks: u32) -> Self {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        id[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let first_seen = earliest_start
            - TimeDelta::days(rng.between(0, 365) as i64)
            - TimeDelta::microseconds(rng.below(86_400_000_000) as i64);
        let form = if rng.percent(50) {
            DateForm::Space
        } else {
            DateForm::T
        };
        let version = rng.pick(VERSIONS);
        let upgrade = UPGRADES
            .iter()
            .find(|(from, _)| *from == version)
            .filter(|_| weeks >= 2 && rng.percent(30))
            .map(|(_, to)| (rng.between(1, u64::from(weeks) - 1) as u32, *to));
        let country = rng.pick(COUNTRIES);
        let mut fleet = [0u8; 4];
        for _ in 0..rng.between(1, 4) {
            fleet[rng.pick(PRINTER_WEIGHTS)] += 1;
        }
        // German compliance mode is what German users switch on; elsewhere it is rare.
        let compliance = if country == "DE" { 45 } else { 5 };
        let features = [
            rng.percent(80),
            rng.percent(50),
            rng.percent(60),
            rng.percent(compliance),
            rng.percent(35),
        ];
        Self {
            id: uuid::Builder::from_random_bytes(id).into_uuid(),
            first_seen,
            form,
            version,
            upgrade,
            python: rng.pick(PYTHONS),
            platform: rng.pick(PLATFORMS),
            deployment: rng.pick(DEPLOYMENTS),
            country,
            fleet,
            features,
            end_offset: TimeDelta::microseconds(rng.below(3_600_000_000) as i64),
        }
    }

    fn version_in_week(&self, week: u32) -> &'static str {
        match self.upgrade {
            Some((from_week, newer)) if week >= from_week => newer,
            _ => self.version,
        }
    }
}

/// One week of activity. Ceilings from CONTRACT.md; uptime never exceeds the 168 h period.
struct Usage {
    jobs: u64,
    files: u64,
    uploads: u64,
    uptime_hours: u64,
    errors: u64,
}

impl Usage {
    fn draw(rng: &mut SplitMix64) -> Self {
        Self {
            jobs: rng.between(0, 60),
            files: rng.between(0, 80),
            uploads: rng.between(0, 20),
            // Many installations (Home Assistant, Docker) run all week.
            uptime_hours: if rng.percent(45) {
                168
            } else {
                rng.between(0, 168)
            },
            errors: if rng.percent(80) {
                0
            } else {
                rng.between(1, 10)
            },
        }
    }
}

/// Writes body number `k` of a run.
#[derive(Clone, Debug)]
pub struct Generator {
    seed: u64,
    now: NaiveDateTime,
    installations: Installations,
    /// The pool's installations (none for fresh) and how many weeks each reports.
    profiles: Vec<Profile>,
    weeks: u32,
}

impl Generator {
    /// `now` anchors every period; it is truncated to microseconds, the resolution we print.
    pub fn new(seed: u64, now: NaiveDateTime, installations: Installations) -> Self {
        let now = now
            .with_nanosecond(now.nanosecond() / 1000 * 1000)
            .expect("a truncated nanosecond is valid");
        let (size, weeks) = match installations {
            Installations::Fresh => (0, 1),
            Installations::Pool { size, weeks } => (size, weeks),
            // The seed run and the measured run send weeks 0 and 1 of the same two-week pool.
            Installations::KnownSeed { size } | Installations::Known { size, .. } => (size, 2),
        };
        let earliest_start = now - WEEK * weeks as i32 - TimeDelta::hours(1);
        let profiles = (0..u64::from(size))
            .map(|i| {
                let mut rng = SplitMix64::stream(seed, &[POOL_INSTALLATION, i]);
                Profile::draw(&mut rng, earliest_start, weeks)
            })
            .collect();
        Self {
            seed,
            now,
            installations,
            profiles,
            weeks,
        }
    }

    /// How many bodies the run has: `None` when unbounded (fresh) or ended by the draw (known).
    pub fn total(&self) -> Option<u64> {
        match self.installations {
            Installations::Pool { size, weeks } => Some(u64::from(size) * u64::from(weeks)),
            Installations::KnownSeed { size } => Some(u64::from(size)),
            Installations::Fresh | Installations::Known { .. } => None,
        }
    }

    /// Clears `buf`, writes body `k` into it and returns the (installation, period) it reports,
    /// or `None` once a pool has sent every pair.
    pub fn write(&self, k: u64, buf: &mut BytesMut) -> Option<Identity> {
        buf.clear();
        buf.reserve(BODY_CAPACITY);
        let size = self.profiles.len() as u64;
        match self.installations {
            Installations::Fresh => Some(self.write_fresh(k, buf)),
            Installations::Pool { .. } => {
                (k < self.total()?).then(|| self.write_week(k % size, (k / size) as u32, buf))
            }
            Installations::KnownSeed { .. } => (k < size).then(|| self.write_week(k, 0, buf)),
            Installations::Known { new_percent, .. } => {
                // Bodies 0..=k hold `new` new installations, spread evenly over the run.
                let new = (k + 1) * u64::from(new_percent) / 100;
                if new > k * u64::from(new_percent) / 100 {
                    return Some(self.write_fresh(k, buf));
                }
                let known = k - new;
                (known < size).then(|| self.write_week(known, 1, buf))
            }
        }
    }

    /// A new installation's first report.
    fn write_fresh(&self, k: u64, buf: &mut BytesMut) -> Identity {
        let mut rng = SplitMix64::stream(self.seed, &[FRESH_BODY, k]);
        // A client reports `[now - 7 d, now]` at its own hourly check: a few minutes ago.
        let end = self.now - TimeDelta::microseconds(rng.between(60_000_000, 1_800_000_000) as i64);
        let start = end - WEEK;
        let profile = Profile::draw(&mut rng, start, 1);
        let usage = Usage::draw(&mut rng);
        write_body(buf, &profile, profile.version, start, end, &usage)
    }

    /// Week `week` of pool installation `installation`.
    fn write_week(&self, installation: u64, week: u32, buf: &mut BytesMut) -> Identity {
        let profile = &self.profiles[installation as usize];
        let weeks_back = (self.weeks - 1 - week) as i32;
        let end = self.now - WEEK * weeks_back - profile.end_offset;
        let start = end - WEEK;
        let mut rng = SplitMix64::stream(self.seed, &[POOL_WEEK, installation, u64::from(week)]);
        let usage = Usage::draw(&mut rng);
        let version = profile.version_in_week(week);
        write_body(buf, profile, version, start, end, &usage)
    }
}

/// Writes the JSON the way Python's `json.dumps` does (`", "` and `": "` separators), which is
/// what Printernizer sends. Every string comes from our own tables, so nothing needs escaping.
fn write_body(
    buf: &mut BytesMut,
    p: &Profile,
    version: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
    usage: &Usage,
) -> Identity {
    // Writing into a BytesMut cannot fail; the results are ignored for that reason.
    let _ = write_body_fmt(buf, p, version, start, end, usage);
    Identity {
        id: p.id.as_u128(),
        at_micros: start.and_utc().timestamp_micros(),
    }
}

fn write_body_fmt(
    buf: &mut BytesMut,
    p: &Profile,
    version: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
    usage: &Usage,
) -> fmt::Result {
    let form = p.form;
    write!(
        buf,
        "{{\"schema_version\": \"1.0\", \"submission_timestamp\": \"{}\", ",
        Stamp(end, form)
    )?;
    write!(
        buf,
        "\"installation\": {{\"installation_id\": \"{}\", \"first_seen\": \"{}\", \
         \"app_version\": \"{version}\", \"python_version\": \"{}\", \"platform\": \"{}\", \
         \"deployment_mode\": \"{}\", \"country_code\": \"{}\"}}, ",
        p.id.hyphenated(),
        Stamp(p.first_seen, form),
        p.python,
        p.platform,
        p.deployment,
        p.country
    )?;
    write!(
        buf,
        "\"period\": {{\"start\": \"{}\", \"end\": \"{}\", \"duration_days\": 7}}, ",
        Stamp(start, form),
        Stamp(end, form)
    )?;
    let printers: u32 = p.fleet.iter().map(|&n| u32::from(n)).sum();
    write!(
        buf,
        "\"printer_fleet\": {{\"printer_count\": {printers}, \"printer_types\": ["
    )?;
    let present = || PRINTER_TYPES.iter().zip(p.fleet).filter(|(_, n)| *n > 0);
    for (i, (name, _)) in present().enumerate() {
        write!(buf, "{}\"{name}\"", if i == 0 { "" } else { ", " })?;
    }
    buf.write_str("], \"printer_type_counts\": {")?;
    for (i, (name, n)) in present().enumerate() {
        write!(buf, "{}\"{name}\": {n}", if i == 0 { "" } else { ", " })?;
    }
    write!(
        buf,
        "}}}}, \"usage_stats\": {{\"job_count\": {}, \"file_count\": {}, \"upload_count\": {}, \
         \"uptime_hours\": {}, \"feature_usage\": {{",
        usage.jobs, usage.files, usage.uploads, usage.uptime_hours
    )?;
    for (i, (name, on)) in FEATURES.iter().zip(p.features).enumerate() {
        write!(buf, "{}\"{name}\": {on}", if i == 0 { "" } else { ", " })?;
    }
    write!(
        buf,
        "}}}}, \"error_summary\": {{\"total_errors\": {}}}}}",
        usage.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet, HashSet};

    fn now() -> NaiveDateTime {
        chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00.123456789Z")
            .unwrap()
            .naive_utc()
    }

    fn body(generator: &Generator, k: u64) -> (String, Option<Identity>) {
        let mut buf = BytesMut::new();
        let key = generator.write(k, &mut buf);
        (String::from_utf8(buf.to_vec()).unwrap(), key)
    }

    fn bodies(generator: &Generator, n: u64) -> Vec<String> {
        (0..n).map(|k| body(generator, k).0).collect()
    }

    /// Parses either datetime form we send; panics on anything else.
    fn parse_stamp(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
            .unwrap_or_else(|e| panic!("{s:?} is not a datetime we send: {e}"))
    }

    fn as_str<'a>(v: &'a Value, pointer: &str) -> &'a str {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} is missing or not a string in {v}"))
    }

    fn as_u64(v: &Value, pointer: &str) -> u64 {
        v.pointer(pointer)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{pointer} is missing or not a count in {v}"))
    }

    /// Every rule from CONTRACT.md that our bodies are meant to respect.
    fn assert_valid_report(text: &str, key: Identity) {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(as_str(&v, "/schema_version"), "1.0");
        let id: Uuid = as_str(&v, "/installation/installation_id").parse().unwrap();
        assert_eq!(id.as_u128(), key.id);
        assert!(PLATFORMS
            .iter()
            .any(|(p, _)| *p == as_str(&v, "/installation/platform")));
        let mode = as_str(&v, "/installation/deployment_mode");
        assert!(DEPLOYMENTS.iter().any(|(d, _)| *d == mode));
        let country = as_str(&v, "/installation/country_code");
        assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
        assert!(!as_str(&v, "/installation/app_version").is_empty());
        assert!(!as_str(&v, "/installation/python_version").is_empty());

        let start = parse_stamp(as_str(&v, "/period/start"));
        let end = parse_stamp(as_str(&v, "/period/end"));
        let first_seen = parse_stamp(as_str(&v, "/installation/first_seen"));
        parse_stamp(as_str(&v, "/submission_timestamp"));
        assert!(start < end, "{start} is not before {end}");
        assert_eq!(end - start, WEEK);
        assert!(first_seen <= start);
        assert_eq!(start.and_utc().timestamp_micros(), key.at_micros);
        assert_eq!(as_u64(&v, "/period/duration_days"), 7);

        let counts = v["printer_fleet"]["printer_type_counts"]
            .as_object()
            .unwrap();
        let sum: u64 = counts.values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(as_u64(&v, "/printer_fleet/printer_count"), sum);
        assert!((1..=4).contains(&sum));
        let types: BTreeSet<&str> = v["printer_fleet"]["printer_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let keys: BTreeSet<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(types, keys);
        assert!(counts.values().all(|n| n.as_u64().unwrap() > 0));

        assert!(as_u64(&v, "/usage_stats/job_count") <= 60);
        assert!(as_u64(&v, "/usage_stats/file_count") <= 80);
        assert!(as_u64(&v, "/usage_stats/upload_count") <= 20);
        assert!(as_u64(&v, "/usage_stats/uptime_hours") <= 168);
        let features = v["usage_stats"]["feature_usage"].as_object().unwrap();
        assert_eq!(features.len(), 5);
        assert!(features.values().all(Value::is_boolean));
        assert!(as_u64(&v, "/error_summary/total_errors") <= 10);
    }

    #[test]
    fn the_same_seed_writes_the_same_bodies() {
        let a = Generator::new(42, now(), Installations::Fresh);
        let b = Generator::new(42, now(), Installations::Fresh);
        assert_eq!(bodies(&a, 50), bodies(&b, 50));
        let a = Generator::new(42, now(), Installations::Pool { size: 7, weeks: 3 });
        let b = Generator::new(42, now(), Installations::Pool { size: 7, weeks: 3 });
        assert_eq!(bodies(&a, 21), bodies(&b, 21));
    }

    #[test]
    fn another_seed_writes_other_bodies() {
        let a = Generator::new(42, now(), Installations::Fresh);
        let b = Generator::new(43, now(), Installations::Fresh);
        assert_ne!(bodies(&a, 10), bodies(&b, 10));
    }

    #[test]
    fn every_fresh_body_is_a_valid_report_of_realistic_size() {
        let generator = Generator::new(42, now(), Installations::Fresh);
        for k in 0..2_000 {
            let (text, key) = body(&generator, k);
            assert!(
                (700..=BODY_CAPACITY).contains(&text.len()),
                "{} bytes",
                text.len()
            );
            assert_valid_report(&text, key.unwrap());
        }
    }

    #[test]
    fn every_pool_body_is_a_valid_report() {
        let generator = Generator::new(5, now(), Installations::Pool { size: 40, weeks: 6 });
        for k in 0..240 {
            let (text, key) = body(&generator, k);
            assert_valid_report(&text, key.unwrap());
        }
    }

    #[test]
    fn fresh_bodies_are_each_a_new_installation_and_period() {
        let generator = Generator::new(42, now(), Installations::Fresh);
        let keys: HashSet<Identity> = (0..5_000).map(|k| body(&generator, k).1.unwrap()).collect();
        let installations: HashSet<u128> = keys.iter().map(|k| k.id).collect();
        assert_eq!(keys.len(), 5_000);
        assert_eq!(installations.len(), 5_000);
    }

    #[test]
    fn both_datetime_forms_appear_across_a_sample() {
        let generator = Generator::new(42, now(), Installations::Fresh);
        let sample = bodies(&generator, 50);
        let with_space = sample
            .iter()
            .filter(|b| b.contains("\"end\": \"2026-11-20 "))
            .count();
        let with_t = sample
            .iter()
            .filter(|b| b.contains("\"end\": \"2026-11-20T"))
            .count();
        assert!(
            with_space > 5 && with_t > 5,
            "space {with_space}, T {with_t}"
        );
    }

    #[test]
    fn datetimes_print_microseconds_like_python_and_drop_a_zero_fraction() {
        let t = parse_stamp("2026-11-20 12:00:00.000042");
        assert_eq!(
            Stamp(t, DateForm::Space).to_string(),
            "2026-11-20 12:00:00.000042"
        );
        assert_eq!(
            Stamp(t, DateForm::T).to_string(),
            "2026-11-20T12:00:00.000042"
        );
        let whole = parse_stamp("2026-11-20 12:00:00");
        assert_eq!(Stamp(whole, DateForm::T).to_string(), "2026-11-20T12:00:00");
    }

    #[test]
    fn value_mix_follows_the_contract_weights_roughly() {
        let generator = Generator::new(42, now(), Installations::Fresh);
        let mut platforms: BTreeMap<String, u32> = BTreeMap::new();
        let mut countries: BTreeMap<String, u32> = BTreeMap::new();
        let mut with_errors = 0;
        for text in bodies(&generator, 4_000) {
            let v: Value = serde_json::from_str(&text).unwrap();
            *platforms
                .entry(as_str(&v, "/installation/platform").into())
                .or_default() += 1;
            *countries
                .entry(as_str(&v, "/installation/country_code").into())
                .or_default() += 1;
            with_errors += u32::from(as_u64(&v, "/error_summary/total_errors") > 0);
        }
        assert!(
            (2_600..3_000).contains(&platforms["linux"]),
            "{platforms:?}"
        );
        let most_common = countries.iter().max_by_key(|(_, n)| **n).unwrap().0;
        assert_eq!(most_common, "DE");
        assert_eq!(countries.len(), COUNTRIES.len());
        assert!(
            (600..1_000).contains(&with_errors),
            "{with_errors} with errors"
        );
    }

    #[test]
    fn pool_mode_sends_every_installation_week_pair_exactly_once() {
        let (size, weeks) = (13, 4);
        let generator = Generator::new(42, now(), Installations::Pool { size, weeks });
        assert_eq!(generator.total(), Some(52));
        let keys: Vec<Identity> = (0..52).map(|k| body(&generator, k).1.unwrap()).collect();
        let distinct: HashSet<Identity> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), 52, "a pair was sent twice");
        let mut weeks_per_installation: BTreeMap<u128, BTreeSet<i64>> = BTreeMap::new();
        for key in &keys {
            weeks_per_installation
                .entry(key.id)
                .or_default()
                .insert(key.at_micros);
        }
        assert_eq!(weeks_per_installation.len(), size as usize);
        for starts in weeks_per_installation.values() {
            let starts: Vec<i64> = starts.iter().copied().collect();
            assert_eq!(starts.len(), weeks as usize);
            // Consecutive weeks: each period starts where the previous one ended.
            assert!(starts
                .windows(2)
                .all(|w| w[1] - w[0] == WEEK.num_microseconds().unwrap()));
        }
        assert_eq!(generator.write(52, &mut BytesMut::new()), None);
    }

    #[test]
    fn a_known_run_sends_each_seeded_installations_next_week_once_among_a_tenth_of_new_ones() {
        let size = 900;
        let seed = Generator::new(42, now(), Installations::KnownSeed { size });
        assert_eq!(seed.total(), Some(900));
        let seeded: Vec<Identity> = (0..900).map(|k| body(&seed, k).1.unwrap()).collect();
        assert_eq!(seed.write(900, &mut BytesMut::new()), None);

        let known = Installations::Known {
            size,
            new_percent: 10,
        };
        let generator = Generator::new(42, now(), known);
        let sent: Vec<Identity> = (0..)
            .map_while(|k| generator.write(k, &mut BytesMut::new()))
            .collect();
        assert_eq!(sent.len(), 1_000);
        let seeded_ids: HashSet<u128> = seeded.iter().map(|key| key.id).collect();
        let (old, new): (Vec<&Identity>, Vec<&Identity>) =
            sent.iter().partition(|key| seeded_ids.contains(&key.id));
        assert_eq!((old.len(), new.len()), (900, 100));
        // Each known installation reports the week after its seeded one, exactly once.
        let next: HashSet<(u128, i64)> = seeded
            .iter()
            .map(|key| (key.id, key.at_micros + WEEK.num_microseconds().unwrap()))
            .collect();
        let reported: HashSet<(u128, i64)> =
            old.iter().map(|key| (key.id, key.at_micros)).collect();
        assert_eq!(reported, next);
        // The new installations are spread over the run, not bunched at one end.
        let first_new = sent.iter().position(|key| !seeded_ids.contains(&key.id));
        assert!(first_new.is_some_and(|at| at < 20), "{first_new:?}");
    }

    #[test]
    fn pool_mode_goes_round_robin_over_installations() {
        let generator = Generator::new(42, now(), Installations::Pool { size: 5, weeks: 3 });
        let first_round: HashSet<u128> =
            (0..5).map(|k| body(&generator, k).1.unwrap().id).collect();
        assert_eq!(first_round.len(), 5);
        assert_eq!(
            body(&generator, 0).1.unwrap().id,
            body(&generator, 5).1.unwrap().id
        );
    }

    #[test]
    fn pool_weeks_end_a_week_apart_with_the_last_ending_within_the_hour_before_now() {
        let generator = Generator::new(42, now(), Installations::Pool { size: 3, weeks: 2 });
        let v: Value = serde_json::from_str(&body(&generator, 4).0).unwrap();
        let last_end = parse_stamp(as_str(&v, "/period/end"));
        assert!(last_end <= now() && now() - last_end <= TimeDelta::hours(1));
    }

    #[test]
    fn a_pool_installation_keeps_its_platform_country_and_mode_across_weeks() {
        let generator = Generator::new(42, now(), Installations::Pool { size: 20, weeks: 5 });
        for installation in 0..20 {
            let attributes: BTreeSet<(String, String, String, String)> = (0..5)
                .map(|week| {
                    let v: Value =
                        serde_json::from_str(&body(&generator, week * 20 + installation).0)
                            .unwrap();
                    (
                        as_str(&v, "/installation/platform").into(),
                        as_str(&v, "/installation/country_code").into(),
                        as_str(&v, "/installation/deployment_mode").into(),
                        as_str(&v, "/installation/first_seen").into(),
                    )
                })
                .collect();
            assert_eq!(
                attributes.len(),
                1,
                "installation {installation}: {attributes:?}"
            );
        }
    }

    #[test]
    fn a_pool_installation_only_ever_steps_its_version_up() {
        let generator = Generator::new(
            42,
            now(),
            Installations::Pool {
                size: 200,
                weeks: 6,
            },
        );
        let mut upgraded = 0;
        for installation in 0..200 {
            let versions: Vec<String> = (0..6)
                .map(|week| {
                    let v: Value =
                        serde_json::from_str(&body(&generator, week * 200 + installation).0)
                            .unwrap();
                    as_str(&v, "/installation/app_version").to_string()
                })
                .collect();
            let changes: Vec<(&String, &String)> = versions
                .iter()
                .zip(&versions[1..])
                .filter(|(a, b)| a != b)
                .collect();
            assert!(changes.len() <= 1, "{versions:?}");
            for (from, to) in changes {
                assert!(
                    UPGRADES.contains(&(from.as_str(), to.as_str())),
                    "{from} -> {to}"
                );
                upgraded += 1;
            }
        }
        assert!(upgraded > 0, "no installation ever upgraded");
    }

    #[test]
    fn the_body_buffer_is_reused_once_the_previous_body_is_released() {
        let generator = Generator::new(42, now(), Installations::Fresh);
        let mut buf = BytesMut::new();
        generator.write(0, &mut buf);
        let first = buf.split().freeze();
        let address = first.as_ptr();
        drop(first); // what hyper does once the request is on the wire
        generator.write(1, &mut buf);
        assert_eq!(buf.as_ptr(), address);
    }
}
