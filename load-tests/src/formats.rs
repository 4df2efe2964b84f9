//! Bodies of the event formats, each as its client sends it: PostHog batches as posthog-python
//! posts them (franklinwh, `/batch/`), franklinwh-cloud's single captures (`/capture/`), Stories'
//! event batches (`/api/events/batch`) and IndexPilot's daily reports (`/api/v1/telemetry`).
//!
//! As in `payload`, body `k` is a pure function of `(seed, k, now)`. Every event is of a declared
//! type with declared properties, so the server counts each one: what the database holds can be
//! compared with what was acknowledged, event by event.
//!
//! Which installation sends body `k` (`Installations`): `Fresh`, a new one per request; `Pool`,
//! installation `k % size`, so each is seen again and again during the run (its day's row is
//! added to, not inserted); `Hot`, the same round of `size` installations `each` times, then
//! the end (franklinwh's CLI, one capture per command: a thousand installations each sending a
//! hundred within a minute update the same thousand rows again and again).

use std::io::Write as _;
use std::ops::RangeInclusive;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use uuid::Uuid;

use crate::payload::{Identity, Sent};
use crate::rng::SplitMix64;

/// The wire formats (and the route each is posted to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// posthog-python's `/batch/`: `{api_key, batch: [...], sent_at}`.
    CaptureBatch,
    /// franklinwh-cloud's single event at `/capture/`: no timestamp, no uuid.
    Capture,
    /// Stories: `{user_id, events: [{event_type, timestamp, properties}]}`.
    Events,
    /// IndexPilot: one daily report.
    Telemetry,
}

impl Format {
    pub fn route(self) -> &'static str {
        match self {
            Format::CaptureBatch => "/batch/",
            Format::Capture => "/capture/",
            Format::Events => "/api/events/batch",
            Format::Telemetry => "/api/v1/telemetry",
        }
    }
}

/// Which installation sends body `k` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installations {
    Fresh,
    Pool { size: u32 },
    Hot { size: u32, each: u32 },
}

/// How a run's bodies vary.
#[derive(Clone, Debug)]
pub struct Mix {
    /// Events per batch, drawn uniformly (batch formats only).
    pub events: RangeInclusive<u32>,
    /// Share of requests whose body is gzip-compressed.
    pub gzip_percent: u64,
    /// Share of requests that resend an earlier body unchanged (a client retrying).
    pub resend_percent: u64,
}

/// Writes body number `k` of a run of one format.
#[derive(Clone, Debug)]
pub struct Generator {
    pub seed: u64,
    /// Every event time and `sent_at` is at most five minutes before it.
    pub now: DateTime<Utc>,
    pub format: Format,
    pub installations: Installations,
    pub mix: Mix,
    /// The key capture bodies carry (`api_key`); the other formats send theirs in a header.
    pub api_key: String,
}

/// Stream tags, distinct from `payload`'s.
const BODY: u64 = 11;
const INSTALLATION: u64 = 12;
const RESEND: u64 = 13;
const GZIP: u64 = 14;
/// How far back a resend reaches for its original: a client retries within seconds.
const RESEND_REACH: u64 = 64;

const LANGUAGES: &[(&str, u32)] = &[("en", 50), ("de", 20), ("fr", 10), ("es", 10), ("ja", 10)];
const APP_VERSIONS: &[(&str, u32)] = &[("1.4.0", 60), ("1.3.2", 30), ("1.2.0", 10)];
const OS_VERSIONS: &[(&str, u32)] = &[("14.2", 40), ("13.6", 20), ("10.0.22631", 40)];
const FEATURES: &[(&str, u32)] = &[("hotkey", 50), ("auto_paste", 30), ("history", 20)];
const SETTINGS: &[(&str, u32)] = &[("language", 40), ("model", 40), ("hotkey", 20)];
const FAILURES: &[(&str, u32)] = &[("network_error", 60), ("model_error", 40)];
const COMMANDS: &[(&str, u32)] = &[("status", 50), ("battery", 20), ("mode", 20), ("tou", 10)];
const OSES: &[(&str, u32)] = &[("linux", 70), ("darwin", 20), ("windows", 10)];
const PYTHONS: &[(&str, u32)] = &[("3.12.3", 60), ("3.11.7", 40)];

impl Generator {
    /// How many bodies the run has: a hot run's fixed count, else unbounded.
    pub fn total(&self) -> Option<u64> {
        match self.installations {
            Installations::Hot { size, each } => Some(u64::from(size) * u64::from(each)),
            _ => None,
        }
    }

    /// Clears `buf` and writes body `k` into it (gzip-compressed if drawn so, through
    /// `scratch`); `None` once a hot run has sent every request.
    pub fn write(&self, k: u64, buf: &mut BytesMut, scratch: &mut Vec<u8>) -> Option<Sent> {
        if self.total().is_some_and(|total| k >= total) {
            return None;
        }
        let original = self.original(k);
        let gzip = SplitMix64::stream(self.seed, &[GZIP, k]).percent(self.mix.gzip_percent);
        scratch.clear();
        let events = self.write_json(original, scratch);
        buf.clear();
        if gzip {
            let mut encoder = GzEncoder::new(buf.writer(), Compression::default());
            encoder.write_all(scratch).expect("writing to memory");
            encoder.finish().expect("writing to memory");
        } else {
            buf.extend_from_slice(scratch);
        }
        Some(Sent {
            // The server counts a resent batch once: it is stored under its original.
            identity: Identity {
                id: u128::from(original),
                at_micros: 0,
            },
            events,
            gzip,
        })
    }

    /// The body `k` repeats: itself, or for a resend an earlier body that is not one itself.
    fn original(&self, k: u64) -> u64 {
        let mut k = k;
        loop {
            let mut rng = SplitMix64::stream(self.seed, &[RESEND, k]);
            if k == 0 || !rng.percent(self.mix.resend_percent) {
                return k;
            }
            k -= 1 + rng.below(k.min(RESEND_REACH));
        }
    }

    fn installation(&self, k: u64) -> Uuid {
        let index = match self.installations {
            Installations::Fresh => k,
            Installations::Pool { size } => k % u64::from(size),
            Installations::Hot { size, .. } => k % u64::from(size),
        };
        let mut rng = SplitMix64::stream(self.seed, &[INSTALLATION, index]);
        let bytes = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        uuid::Builder::from_random_bytes(bytes.to_le_bytes()).into_uuid()
    }

    /// Body `k` as JSON into `out`; returns how many events it counts (a report counts one).
    fn write_json(&self, k: u64, out: &mut Vec<u8>) -> u64 {
        let mut rng = SplitMix64::stream(self.seed, &[BODY, k]);
        let installation = self.installation(k);
        let events = match self.format {
            Format::Capture | Format::Telemetry => 1,
            Format::CaptureBatch | Format::Events => {
                let (lo, hi) = (*self.mix.events.start(), *self.mix.events.end());
                rng.between(u64::from(lo), u64::from(hi))
            }
        };
        // Writing into a Vec cannot fail.
        let _ = match self.format {
            Format::CaptureBatch => self.capture_batch(&mut rng, installation, events, out),
            Format::Capture => self.capture(&mut rng, installation, out),
            Format::Events => self.stories(&mut rng, installation, events, out),
            Format::Telemetry => self.telemetry(&mut rng, installation, out),
        };
        events
    }

    /// A time in the last five minutes, as the client's clock wrote it.
    fn recent(&self, rng: &mut SplitMix64) -> DateTime<Utc> {
        self.now - TimeDelta::microseconds(rng.below(300_000_000) as i64)
    }

    fn capture_batch(
        &self,
        rng: &mut SplitMix64,
        installation: Uuid,
        events: u64,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        // posthog-python writes `json.dumps(..., separators=(",", ":"))`, isoformat times.
        write!(out, "{{\"api_key\":\"{}\",\"batch\":[", self.api_key)?;
        let (os, python) = (rng.pick(OSES), rng.pick(PYTHONS));
        for i in 0..events {
            let at = self
                .recent(rng)
                .to_rfc3339_opts(SecondsFormat::Micros, false);
            let uuid = uuid::Builder::from_random_bytes(
                ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())).to_le_bytes(),
            )
            .into_uuid();
            write!(
                out,
                "{}{{\"event\":\"cli_command_executed\",\"distinct_id\":\"{installation}\",\
                 \"properties\":{{\"franklin_version\":\"0.6.4\",\"python_version\":\"{python}\",\
                 \"os\":\"{os}\",\"command\":\"{}\",\"duration_ms\":{},\"success\":{},\
                 \"$lib\":\"posthog-python\",\"$lib_version\":\"7.0.1\",\"$geoip_disable\":true}},\
                 \"timestamp\":\"{at}\",\"uuid\":\"{uuid}\"}}",
                if i == 0 { "" } else { "," },
                rng.pick(COMMANDS),
                rng.between(20, 4_000),
                rng.percent(95),
            )?;
        }
        let sent_at = self.now.to_rfc3339_opts(SecondsFormat::Micros, false);
        write!(out, "],\"sent_at\":\"{sent_at}\"}}")
    }

    fn capture(
        &self,
        rng: &mut SplitMix64,
        installation: Uuid,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        // franklinwh-cloud 0.6.4's telemetry.py: `requests.post(json=...)`, Python's separators.
        write!(
            out,
            "{{\"api_key\": \"{}\", \"event\": \"cli_command_executed\", \"properties\": \
             {{\"$ip\": \"127.0.0.1\", \"distinct_id\": \"{installation}\", \
             \"franklin_version\": \"0.6.4\", \"python_version\": \"{}\", \"os\": \"{}\", \
             \"os_release\": \"6.1.0-18-amd64\", \"command\": \"{}\"}}}}",
            self.api_key,
            rng.pick(PYTHONS),
            rng.pick(OSES),
            rng.pick(COMMANDS),
        )
    }

    fn stories(
        &self,
        rng: &mut SplitMix64,
        installation: Uuid,
        events: u64,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        write!(out, "{{\"user_id\": \"{installation}\", \"events\": [")?;
        for i in 0..events {
            let at = self
                .recent(rng)
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            let sep = if i == 0 { "" } else { ", " };
            write!(out, "{sep}{{\"timestamp\": \"{at}\", ")?;
            match rng.below(100) {
                0..=19 => write!(
                    out,
                    "\"event_type\": \"app_opened\", \"properties\": {{\"app_version\": \"{}\", \
                     \"os_version\": \"{}\", \"language\": \"{}\"}}}}",
                    rng.pick(APP_VERSIONS),
                    rng.pick(OS_VERSIONS),
                    rng.pick(LANGUAGES)
                ),
                20..=44 => write!(
                    out,
                    "\"event_type\": \"recording_started\", \"properties\": {{\"source\": \"{}\", \
                     \"duration\": {}}}}}",
                    if rng.percent(80) { "main" } else { "widget" },
                    rng.between(1, 600)
                ),
                45..=74 => write!(
                    out,
                    "\"event_type\": \"transcription_completed\", \"properties\": \
                     {{\"duration\": {}.{}, \"success\": {}}}}}",
                    rng.between(1, 300),
                    rng.below(10),
                    rng.percent(97)
                ),
                75..=79 => write!(
                    out,
                    "\"event_type\": \"transcription_failed\", \"properties\": \
                     {{\"error_type\": \"{}\"}}}}",
                    rng.pick(FAILURES)
                ),
                80..=94 => write!(
                    out,
                    "\"event_type\": \"feature_used\", \"properties\": {{\"feature\": \"{}\"}}}}",
                    rng.pick(FEATURES)
                ),
                _ => write!(
                    out,
                    "\"event_type\": \"settings_changed\", \"properties\": {{\"setting\": \"{}\"}}}}",
                    rng.pick(SETTINGS)
                ),
            }?;
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }

    fn telemetry(
        &self,
        rng: &mut SplitMix64,
        installation: Uuid,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        // IndexPilot's installation id is a hex hash; the report is sent at its daily time.
        let at = self.recent(rng).to_rfc3339_opts(SecondsFormat::Secs, true);
        write!(
            out,
            "{{\"installation_id\": \"{}\", \"version\": \"1.{}.0\", \"timestamp\": \"{at}\", \
             \"metrics\": {{\"features_used\": [\"auto_indexing\", \"pattern_detection\"], \
             \"indexes_created\": {}, \"queries_analyzed\": {}, \
             \"performance_improvement_pct\": {}.5, \"algorithm_usage\": \
             {{\"predictive_indexing\": {}, \"cert\": {}, \"qpg\": {}}}}}, \
             \"environment\": {{\"python_version\": \"{}\", \"postgresql_version\": \"1{}.0\", \
             \"os\": \"{}\", \"cpu_cores\": {}}}}}",
            installation.simple(),
            rng.between(0, 4),
            rng.below(50),
            rng.below(100_000),
            rng.below(80),
            rng.below(30),
            rng.below(30),
            rng.below(30),
            rng.pick(PYTHONS),
            rng.between(3, 7),
            rng.pick(OSES),
            1 << rng.below(6),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use serde_json::Value;
    use std::collections::HashSet;
    use std::io::Read;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00.123456Z")
            .unwrap()
            .to_utc()
    }

    fn generator(format: Format, installations: Installations, mix: Mix) -> Generator {
        Generator {
            seed: 42,
            now: now(),
            format,
            installations,
            mix,
            api_key: "phc_bench".into(),
        }
    }

    fn mix(events: RangeInclusive<u32>, gzip_percent: u64, resend_percent: u64) -> Mix {
        Mix {
            events,
            gzip_percent,
            resend_percent,
        }
    }

    fn plain(events: RangeInclusive<u32>) -> Mix {
        mix(events, 0, 0)
    }

    /// Body `k` as JSON (decompressed if it was gzip) and what it carried.
    fn body(generator: &Generator, k: u64) -> (Value, Sent) {
        let (mut buf, mut scratch) = (BytesMut::new(), Vec::new());
        let sent = generator.write(k, &mut buf, &mut scratch).unwrap();
        let mut text = Vec::new();
        if sent.gzip {
            GzDecoder::new(&buf[..]).read_to_end(&mut text).unwrap();
        } else {
            text = buf.to_vec();
        }
        (serde_json::from_slice(&text).unwrap(), sent)
    }

    fn as_str<'v>(v: &'v Value, pointer: &str) -> &'v str {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} in {v}"))
    }

    fn is_recent(text: &str) -> bool {
        let at = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        at <= now() && now() - at < TimeDelta::minutes(10)
    }

    #[test]
    fn a_capture_batch_has_posthog_pythons_envelope_and_the_drawn_number_of_events() {
        let generator = generator(Format::CaptureBatch, Installations::Fresh, plain(1..=100));
        let mut sizes = HashSet::new();
        for k in 0..300 {
            let (v, sent) = body(&generator, k);
            assert_eq!(v["api_key"], "phc_bench");
            assert!(is_recent(as_str(&v, "/sent_at")));
            let batch = v["batch"].as_array().unwrap();
            assert_eq!(batch.len() as u64, sent.events);
            sizes.insert(batch.len());
            let installation = as_str(&batch[0], "/distinct_id");
            for event in batch {
                // The shape the server's capture adapter reads, every event of a declared type.
                assert_eq!(event["event"], "cli_command_executed");
                assert_eq!(as_str(event, "/distinct_id"), installation);
                Uuid::parse_str(as_str(event, "/uuid")).unwrap();
                assert!(is_recent(as_str(event, "/timestamp")));
                let properties = event["properties"].as_object().unwrap();
                assert!(properties["duration_ms"].is_u64());
                assert!(properties["success"].is_boolean());
                assert_eq!(properties["$lib"], "posthog-python");
            }
        }
        assert!(sizes.contains(&1) || sizes.contains(&2), "{sizes:?}");
        assert!(sizes.iter().all(|n| (1..=100).contains(n)));
        assert!(sizes.len() > 50, "{} sizes", sizes.len());
    }

    #[test]
    fn the_gzip_share_compresses_about_that_share_of_bodies_and_they_decompress_intact() {
        let mix = mix(1..=100, 50, 0);
        let zipped = generator(Format::CaptureBatch, Installations::Fresh, mix);
        let unzipped = generator(Format::CaptureBatch, Installations::Fresh, plain(1..=100));
        let mut compressed = 0;
        for k in 0..400 {
            let (v, sent) = body(&zipped, k);
            compressed += u32::from(sent.gzip);
            // The same body either way: compression changes only the bytes on the wire.
            assert_eq!(v, body(&unzipped, k).0);
        }
        assert!((160..240).contains(&compressed), "{compressed} of 400");
        assert!(!body(&unzipped, 0).1.gzip);
    }

    #[test]
    fn a_gzip_body_starts_with_the_gzip_magic_bytes() {
        let mix = mix(5..=5, 100, 0);
        let generator = generator(Format::CaptureBatch, Installations::Fresh, mix);
        let (mut buf, mut scratch) = (BytesMut::new(), Vec::new());
        assert!(generator.write(0, &mut buf, &mut scratch).unwrap().gzip);
        assert_eq!(&buf[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn a_single_capture_is_franklinwhs_body_without_time_or_uuid() {
        let generator = generator(Format::Capture, Installations::Fresh, plain(1..=1));
        let (v, sent) = body(&generator, 3);
        assert_eq!(sent.events, 1);
        assert_eq!(v["event"], "cli_command_executed");
        assert!(v.get("timestamp").is_none() && v.get("uuid").is_none());
        Uuid::parse_str(as_str(&v, "/properties/distinct_id")).unwrap();
    }

    #[test]
    fn a_hot_run_sends_each_installation_its_share_in_rounds_then_ends() {
        let hot = Installations::Hot { size: 3, each: 4 };
        let generator = generator(Format::Capture, hot, plain(1..=1));
        assert_eq!(generator.total(), Some(12));
        let ids: Vec<String> = (0..12)
            .map(|k| as_str(&body(&generator, k).0, "/properties/distinct_id").to_owned())
            .collect();
        assert_eq!(ids[..3].iter().collect::<HashSet<_>>().len(), 3);
        assert!(ids.chunks(3).all(|round| round == &ids[..3]));
        let mut buf = BytesMut::new();
        assert!(generator.write(12, &mut buf, &mut Vec::new()).is_none());
    }

    #[test]
    fn a_stories_batch_holds_declared_events_with_their_properties() {
        let generator = generator(Format::Events, Installations::Fresh, plain(10..=50));
        let mut types = HashSet::new();
        for k in 0..100 {
            let (v, sent) = body(&generator, k);
            Uuid::parse_str(as_str(&v, "/user_id")).unwrap();
            let events = v["events"].as_array().unwrap();
            assert!((10..=50).contains(&events.len()));
            assert_eq!(events.len() as u64, sent.events);
            for event in events {
                assert!(is_recent(as_str(event, "/timestamp")));
                assert!(event["properties"].is_object());
                types.insert(as_str(event, "/event_type").to_owned());
            }
        }
        assert_eq!(types.len(), 6, "{types:?}");
    }

    #[test]
    fn a_resend_repeats_an_earlier_body_byte_for_byte_and_is_stored_under_it() {
        let mix = mix(10..=50, 0, 5);
        let generator = generator(Format::Events, Installations::Pool { size: 100 }, mix);
        let sent: Vec<(Value, Sent)> = (0..2_000).map(|k| body(&generator, k)).collect();
        let resends: Vec<usize> = (0..sent.len())
            .filter(|&k| sent[k].1.identity.id != k as u128)
            .collect();
        assert!(
            (50..150).contains(&resends.len()),
            "{} resends",
            resends.len()
        );
        for k in resends {
            let original = sent[k].1.identity.id as usize;
            // Within reach, or further back when the body reached was a resend itself.
            assert!(original < k, "{original} is not before {k}");
            assert_eq!(sent[k].0, sent[original].0);
            assert_eq!(sent[original].1.identity.id, original as u128);
        }
    }

    #[test]
    fn a_telemetry_report_has_indexpilots_fields_and_a_hex_installation_id() {
        let generator = generator(Format::Telemetry, Installations::Fresh, plain(1..=1));
        let ids: HashSet<String> = (0..50)
            .map(|k| {
                let (v, sent) = body(&generator, k);
                assert_eq!(sent.events, 1);
                assert!(is_recent(as_str(&v, "/timestamp")));
                assert!(v["metrics"]["indexes_created"].is_u64());
                assert!(v["environment"]["cpu_cores"].is_u64());
                let id = as_str(&v, "/installation_id").to_owned();
                assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
                id
            })
            .collect();
        assert_eq!(ids.len(), 50);
    }

    /// Folds body `k` with the server's adapter for its format, as the route would.
    fn folded_by_the_server(
        generator: &Generator,
        k: u64,
    ) -> (tally::domain::activity::Folded, Sent) {
        use tally::domain::adapters::{capture, events, indexpilot};
        static CATALOG: std::sync::OnceLock<tally::domain::Catalog> = std::sync::OnceLock::new();
        let catalog =
            CATALOG.get_or_init(|| tally::domain::Catalog::load(None).expect("the catalog"));
        let (mut buf, mut scratch) = (BytesMut::new(), Vec::new());
        let sent = generator.write(k, &mut buf, &mut scratch).unwrap();
        assert!(!sent.gzip, "decompressing is the route's part");
        let product = |name| catalog.product(name).expect("a shipped product");
        // The generator's `now` is in the past: fold at the same instant.
        let folded = match generator.format {
            Format::CaptureBatch | Format::Capture => {
                let captured = capture::read(&buf).expect("a capture body");
                assert_eq!(captured.api_key(), "phc_bench");
                captured.fold(product("franklinwh"), now())
            }
            Format::Events => events::fold_batch(&buf, product("stories"), now()),
            Format::Telemetry => indexpilot::fold(&buf, product("indexpilot"), now()),
        };
        (folded.expect("the server's adapter accepts the body"), sent)
    }

    fn events_counted(folded: &tally::domain::activity::Folded) -> f64 {
        let counts = folded.rows.iter().flat_map(|row| row.counts.iter());
        counts
            .filter(|(key, _)| key.starts_with("event/"))
            .map(|(_, n)| n)
            .sum()
    }

    #[test]
    fn the_servers_adapters_accept_every_format_and_count_every_event() {
        for (format, events) in [
            (Format::CaptureBatch, 1..=100),
            (Format::Capture, 1..=1),
            (Format::Events, 10..=50),
        ] {
            let generator = generator(format, Installations::Pool { size: 7 }, plain(events));
            for k in 0..50 {
                let (folded, sent) = folded_by_the_server(&generator, k);
                assert_eq!(
                    events_counted(&folded),
                    sent.events as f64,
                    "{format:?} body {k}"
                );
                assert_eq!(folded.others, 0, "{format:?} body {k}");
            }
        }
        let telemetry = generator(Format::Telemetry, Installations::Fresh, plain(1..=1));
        for k in 0..50 {
            let (folded, _) = folded_by_the_server(&telemetry, k);
            assert_eq!(
                (folded.rows.len(), folded.dropped, folded.others),
                (1, 0, 0)
            );
        }
    }

    #[test]
    fn the_server_fingerprints_a_resent_stories_batch_as_its_original() {
        let mix = mix(10..=50, 0, 10);
        let generator = generator(Format::Events, Installations::Pool { size: 7 }, mix);
        let resend = (1..200)
            .find(|&k| generator.original(k) != k)
            .expect("a resend among 200 bodies");
        let (again, _) = folded_by_the_server(&generator, resend);
        let (first, _) = folded_by_the_server(&generator, generator.original(resend));
        assert!(again.fingerprint.is_some());
        assert_eq!(again.fingerprint, first.fingerprint);
        let (next, _) = folded_by_the_server(&generator, generator.original(resend) + 1);
        assert_ne!(next.fingerprint, first.fingerprint);
    }

    #[test]
    fn the_same_seed_writes_the_same_bodies() {
        let a = generator(Format::Events, Installations::Fresh, plain(10..=50));
        let b = generator(Format::Events, Installations::Fresh, plain(10..=50));
        for k in 0..20 {
            assert_eq!(body(&a, k).0, body(&b, k).0);
        }
    }
}
