//! Printernizer's reports: one statement per batch into the typed `submissions` table.
//!
//! One statement cannot update a row twice: reports for the same key merge (latest wins) and
//! all their senders get the same answer.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use deadpool_postgres::Pool;

use super::{answer, in_halves, within_deadline, Answers, Batch, Reply, Waiting, WriteError};
use crate::store::submissions::{Columns, PreparedReport, ReportKey};

/// The outcome of a committed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub submission_id: i64,
    /// False when the report overwrote one stored before (a retry).
    pub inserted: bool,
}

/// Batches of Printernizer's reports.
pub struct Reports;

impl Batch for Reports {
    type Job = PreparedReport;
    type Stored = Stored;

    async fn commit(
        &self,
        pool: &Pool,
        jobs: Vec<Waiting<Self>>,
        timeout: Duration,
    ) -> Answers<Stored> {
        commit(pool, jobs, timeout).await
    }
}

/// Commits one batch; returns the answer to each of its reports.
async fn commit(pool: &Pool, jobs: Vec<Waiting<Reports>>, timeout: Duration) -> Answers<Stored> {
    let received = jobs.len();
    let mut slots: HashMap<ReportKey, usize> = HashMap::with_capacity(received);
    let mut reports: Vec<(PreparedReport, Vec<Reply<Stored>>)> = Vec::with_capacity(received);
    for Waiting { job, reply } in jobs {
        let key = job.key();
        match slots.get(&key) {
            Some(&slot) => {
                reports[slot].0 = job;
                reports[slot].1.push(reply);
            }
            None => {
                slots.insert(key, reports.len());
                reports.push((job, vec![reply]));
            }
        }
    }
    // In key order: concurrent batches lock the rows they share in the same order.
    reports.sort_unstable_by_key(|(report, _)| report.key());
    let mut columns = Columns::with_capacity(reports.len());
    let mut keys = Vec::with_capacity(reports.len());
    let mut waiters = Vec::with_capacity(reports.len());
    for (report, replies) in reports {
        keys.push(report.key());
        columns.push(report);
        waiters.push(replies);
    }
    metrics::histogram!("tally_batch_reports").record(received as f64);

    let started = std::time::Instant::now();
    let write = |rows: Range<usize>| {
        within_deadline(pool, timeout, async |client| {
            columns.upsert(client, rows).await
        })
    };
    let answers = in_halves(&mut waiters, write, |rows, stored, waiters, answers| {
        for (key, submission_id, inserted) in stored {
            // `keys` is sorted (see above).
            let Ok(slot) = keys[rows.clone()].binary_search(&key) else {
                continue;
            };
            for (nth, reply) in waiters[slot].drain(..).enumerate() {
                let stored = Stored {
                    submission_id,
                    inserted: inserted && nth == 0,
                };
                answers.give(reply, Ok(stored));
            }
        }
        // A report Postgres did not return was not stored: say so rather than hang.
        answer(waiters, &WriteError::Unconfirmed, answers);
    })
    .await;
    metrics::histogram!("tally_batch_commit_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    answers
}
