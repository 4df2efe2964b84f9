//! The end-of-run report: one JSON object on stdout (and optionally in a file).
//!
//! Latencies come from the HDR histogram in microseconds and are reported in milliseconds with
//! three decimals. `stored_*` are `total_submissions` from `GET /stats/summary` before and after
//! the run (null without an admin key). `acknowledged_equals_stored` compares the distinct
//! (installation, period) pairs the server answered 200 for with the growth of its table: the
//! server promised to keep every one of them, and a retry of the same pair is one row. It is
//! only meaningful when nothing else writes to the server during the run. `cpu_secs` holds the
//! CPU seconds of each watched process tree (and the generator) over the measured window only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::driver::Outcome;

/// How the run was set up, as it appears in the report.
pub struct Setup {
    pub target: &'static str,
    pub mode: &'static str,
    pub rate: Option<f64>,
    pub connections: u32,
    pub installations: &'static str,
    pub seed: u64,
    pub warmup_secs: f64,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub target: &'static str,
    pub mode: &'static str,
    /// Open mode's arrival rate; null in closed mode.
    pub rate_rps: Option<f64>,
    pub connections: u32,
    pub installations: &'static str,
    pub seed: u64,
    /// The measured window actually run (shorter than asked when a pool ran out).
    pub duration_secs: f64,
    pub warmup_secs: f64,
    /// Answers recorded in the window (transport errors excluded).
    pub requests: u64,
    /// Requests sent during the warm-up, answered or not; not in the histogram.
    pub warmup_requests: u64,
    pub throughput_rps: f64,
    /// Events in the requests answered 200 in the window, per second (a report counts one).
    pub events_per_sec: f64,
    pub latency_ms: Latency,
    pub status_counts: BTreeMap<String, u64>,
    pub transport_errors: u64,
    /// 200s over the whole run, warm-up included.
    pub acknowledged: u64,
    pub distinct_acknowledged: u64,
    /// Events in the acknowledged requests (a report counts one), and in the distinct ones:
    /// what a server that counts a resent batch once must hold.
    pub acknowledged_events: u64,
    pub distinct_acknowledged_events: u64,
    pub stored_before: Option<u64>,
    pub stored_after: Option<u64>,
    pub stored_delta: Option<i64>,
    pub acknowledged_equals_stored: Option<bool>,
    /// CPU seconds in the measured window by label (`--cpu-pid`, and `generator`).
    pub cpu_secs: BTreeMap<String, f64>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Report {
    /// `counts_rows`: whether each acknowledged request is a stored row (submit, not health).
    pub fn new(
        setup: Setup,
        outcome: &Outcome,
        counts_rows: bool,
        stored_before: Option<u64>,
        stored_after: Option<u64>,
    ) -> Self {
        let h = &outcome.histogram;
        let ms = |micros: u64| round3(micros as f64 / 1000.0);
        let latency_ms = Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: round3(h.mean() / 1000.0),
        };
        let requests: u64 = outcome.statuses.iter().map(|(_, n)| n).sum();
        let seconds = outcome.measured.as_secs_f64();
        let per_second = |n: u64| {
            if seconds > 0.0 {
                round3(n as f64 / seconds)
            } else {
                0.0
            }
        };
        let stored_delta = match (stored_before, stored_after) {
            (Some(before), Some(after)) => Some(after as i64 - before as i64),
            _ => None,
        };
        Report {
            target: setup.target,
            mode: setup.mode,
            rate_rps: setup.rate,
            connections: setup.connections,
            installations: setup.installations,
            seed: setup.seed,
            duration_secs: round3(seconds),
            warmup_secs: round3(setup.warmup_secs),
            requests,
            warmup_requests: outcome.warmup_requests,
            throughput_rps: per_second(requests),
            events_per_sec: per_second(outcome.window_events),
            latency_ms,
            status_counts: outcome
                .statuses
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
            transport_errors: outcome.transport_errors,
            acknowledged: outcome.acknowledged,
            distinct_acknowledged: outcome.distinct_acknowledged,
            acknowledged_events: outcome.acknowledged_events,
            distinct_acknowledged_events: outcome.distinct_acknowledged_events,
            stored_before,
            stored_after,
            stored_delta,
            acknowledged_equals_stored: stored_delta
                .filter(|_| counts_rows)
                .map(|delta| delta == outcome.distinct_acknowledged as i64),
            cpu_secs: BTreeMap::new(),
        }
    }

    pub fn with_cpu(mut self, cpu_secs: BTreeMap<String, f64>) -> Self {
        self.cpu_secs = cpu_secs.into_iter().map(|(k, v)| (k, round3(v))).collect();
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use serde_json::Value;
    use std::time::Duration;

    fn setup() -> Setup {
        Setup {
            target: "submit",
            mode: "closed",
            rate: None,
            connections: 4,
            installations: "fresh",
            seed: 42,
            warmup_secs: 1.0,
        }
    }

    fn outcome(latencies_us: &[u64], distinct_acknowledged: u64) -> Outcome {
        let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3).unwrap();
        for &us in latencies_us {
            histogram.record(us).unwrap();
        }
        Outcome {
            histogram,
            statuses: vec![(200, latencies_us.len() as u64 - 1), (429, 1)],
            transport_errors: 2,
            warmup_requests: 5,
            acknowledged: distinct_acknowledged,
            distinct_acknowledged,
            acknowledged_events: distinct_acknowledged,
            distinct_acknowledged_events: distinct_acknowledged,
            window_events: latencies_us.len() as u64 - 1,
            answered: latencies_us.len() as u64 + 5,
            measured: Duration::from_secs(2),
        }
    }

    #[test]
    fn latencies_are_reported_in_milliseconds_with_three_decimals() {
        let report = Report::new(
            setup(),
            &outcome(&[1_234, 1_234, 1_234, 2_000], 3),
            true,
            None,
            None,
        );
        assert_eq!(report.latency_ms.p50, 1.234);
        assert_eq!(report.latency_ms.max, 2.0);
        assert_eq!(report.latency_ms.mean, 1.426);
        assert_eq!(report.requests, 4);
        assert_eq!(report.throughput_rps, 2.0);
    }

    #[test]
    fn the_report_has_every_key_the_brief_names_and_status_keys_are_strings() {
        let json = Report::new(setup(), &outcome(&[900, 1_100], 1), true, None, None).to_json();
        let v: Value = serde_json::from_str(&json).unwrap();
        for key in [
            "target",
            "mode",
            "connections",
            "duration_secs",
            "warmup_secs",
            "requests",
            "throughput_rps",
            "latency_ms",
            "status_counts",
            "transport_errors",
            "acknowledged",
            "stored_before",
            "stored_after",
            "stored_delta",
            "acknowledged_equals_stored",
            "cpu_secs",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {json}");
        }
        for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(
                v["latency_ms"][key].is_number(),
                "latency_ms.{key} in {json}"
            );
        }
        assert_eq!(v["status_counts"]["429"], 1);
        assert!(v["acknowledged_equals_stored"].is_null());
    }

    #[test]
    fn stored_rows_are_compared_with_distinct_acknowledged_pairs() {
        let run = outcome(&[1_000; 11], 10);
        let equal = Report::new(setup(), &run, true, Some(100), Some(110));
        assert_eq!(equal.stored_delta, Some(10));
        assert_eq!(equal.acknowledged_equals_stored, Some(true));
        let lost = Report::new(setup(), &run, true, Some(100), Some(109));
        assert_eq!(lost.acknowledged_equals_stored, Some(false));
    }

    #[test]
    fn health_runs_make_no_claim_about_stored_rows() {
        let run = outcome(&[1_000; 3], 2);
        let report = Report::new(setup(), &run, false, Some(7), Some(7));
        assert_eq!(report.stored_delta, Some(0));
        assert_eq!(report.acknowledged_equals_stored, None);
    }
}
