//! Ingest outcomes: what became of each request to an ingest route, per product, counted in
//! memory on the hot path (one atomic add) and added to the `ingest_outcomes` table every few
//! seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use metrics::Counter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Unauthorized,
    RateLimited,
    TooLarge,
    Malformed,
    Invalid,
    Unavailable,
    Failed,
    /// Not a request outcome: unknown fields dropped from reports that were valid.
    UnknownFieldsDropped,
    /// Not a request outcome: values outside their allow-list, stored as `other`.
    OtherValues,
}

impl Outcome {
    pub const ALL: [Outcome; 11] = [
        Self::Accepted,
        Self::Duplicate,
        Self::Unauthorized,
        Self::RateLimited,
        Self::TooLarge,
        Self::Malformed,
        Self::Invalid,
        Self::Unavailable,
        Self::Failed,
        Self::UnknownFieldsDropped,
        Self::OtherValues,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Unauthorized => "rejected_unauthorized",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "rejected_too_large",
            Self::Malformed => "rejected_malformed",
            Self::Invalid => "rejected_invalid",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
            Self::UnknownFieldsDropped => "unknown_fields_dropped",
            Self::OtherValues => "values_stored_as_other",
        }
    }

    /// The outcome of a `/submit` response that is not a success.
    pub fn of_error_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Unauthorized,
            429 => Self::RateLimited,
            413 => Self::TooLarge,
            400 => Self::Malformed,
            422 => Self::Invalid,
            503 => Self::Unavailable,
            _ => Self::Failed,
        }
    }
}

/// Counts since the last flush, per product, and the `tally_ingest_outcomes_total` counter of
/// each product and outcome.
pub struct Outcomes {
    products: Vec<&'static str>,
    counts: Vec<[AtomicU64; Outcome::ALL.len()]>,
    /// Looked up once (`counter!` builds and looks up its key on every call), at the first
    /// count: the recorder is installed by then (`telemetry::metrics_handle`).
    counters: OnceLock<Vec<[Counter; Outcome::ALL.len()]>>,
}

impl Outcomes {
    /// Counts for `products`; the first is the one counts of an unknown product go to.
    pub fn new(products: Vec<&'static str>) -> Self {
        let counts = products.iter().map(|_| Default::default()).collect();
        Self {
            products,
            counts,
            counters: OnceLock::new(),
        }
    }

    pub fn add(&self, product: &str, outcome: Outcome, n: u64) {
        let at = self.index(product);
        self.count(at, outcome, n);
        let counters = self.counters.get_or_init(|| {
            self.products
                .iter()
                .map(|product| {
                    Outcome::ALL.map(|o| {
                        metrics::counter!("tally_ingest_outcomes_total",
                            "product" => *product, "outcome" => o.as_str())
                    })
                })
                .collect()
        });
        if let Some(counters) = counters.get(at) {
            counters[outcome as usize].increment(n);
        }
    }

    /// Takes the counts, leaving zeros: what a flush writes.
    pub fn take(&self) -> Vec<(&'static str, Outcome, u64)> {
        let mut taken = Vec::new();
        for (product, counts) in self.products.iter().zip(&self.counts) {
            for outcome in Outcome::ALL {
                let n = counts[outcome as usize].swap(0, Ordering::Relaxed);
                if n > 0 {
                    taken.push((*product, outcome, n));
                }
            }
        }
        taken
    }

    /// Puts back counts a failed flush could not write (the metric counted them already).
    pub fn restore(&self, taken: &[(&'static str, Outcome, u64)]) {
        for (product, outcome, n) in taken {
            self.count(self.index(product), *outcome, *n);
        }
    }

    fn count(&self, at: usize, outcome: Outcome, n: u64) {
        if let Some(counts) = self.counts.get(at) {
            counts[outcome as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    fn index(&self, product: &str) -> usize {
        self.products
            .iter()
            .position(|known| *known == product)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_the_counts_leaves_zeros_and_restoring_puts_them_back() {
        let outcomes = Outcomes::new(vec!["printernizer", "stories"]);
        outcomes.add("printernizer", Outcome::Accepted, 2);
        outcomes.add("stories", Outcome::Invalid, 1);
        outcomes.add("undeclared", Outcome::Accepted, 1);

        let taken = outcomes.take();

        assert_eq!(
            taken,
            vec![
                ("printernizer", Outcome::Accepted, 3),
                ("stories", Outcome::Invalid, 1)
            ]
        );
        assert!(outcomes.take().is_empty());
        outcomes.restore(&taken);
        assert_eq!(outcomes.take(), taken);
    }
}
