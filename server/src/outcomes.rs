//! Ingest outcomes: what became of each request to `/submit`, counted in memory on the hot
//! path (one atomic add) and added to the `ingest_outcomes` table every few seconds.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
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

/// Counts since the last flush.
#[derive(Default)]
pub struct Outcomes {
    counts: [AtomicU64; Outcome::ALL.len()],
}

impl Outcomes {
    pub fn add(&self, outcome: Outcome, n: u64) {
        self.counts[outcome as usize].fetch_add(n, Ordering::Relaxed);
        metrics::counter!("tally_ingest_outcomes_total", "outcome" => outcome.as_str())
            .increment(n);
    }

    /// Takes the counts, leaving zeros: what a flush writes.
    pub fn take(&self) -> Vec<(Outcome, u64)> {
        Outcome::ALL
            .iter()
            .map(|outcome| {
                (
                    *outcome,
                    self.counts[*outcome as usize].swap(0, Ordering::Relaxed),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Puts back counts a failed flush could not write.
    pub fn restore(&self, taken: &[(Outcome, u64)]) {
        for (outcome, n) in taken {
            self.counts[*outcome as usize].fetch_add(*n, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_the_counts_leaves_zeros_and_restoring_puts_them_back() {
        let outcomes = Outcomes::default();
        outcomes.add(Outcome::Accepted, 2);
        outcomes.add(Outcome::Invalid, 1);

        let taken = outcomes.take();

        assert_eq!(taken, vec![(Outcome::Accepted, 2), (Outcome::Invalid, 1)]);
        assert!(outcomes.take().is_empty());
        outcomes.restore(&taken);
        assert_eq!(outcomes.take(), taken);
    }
}
