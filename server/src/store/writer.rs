//! Group commit: handlers hand a valid report to the writer and wait; the writer commits every
//! report that is waiting (up to `batch_max`) in one statement and then answers each of them.
//!
//! Nothing is acknowledged before its batch has committed (`synchronous_commit` stays on).
//! The queue is bounded: when it is full, or the database is away, the answer is an
//! immediate error that the handler turns into 503 + Retry-After, never a hang.
//!
//! A report whose sender has stopped waiting (it was answered 503, or hung up) is not written:
//! under overload the database would otherwise do the work twice while clients retry. A batch
//! the database refuses is retried in halves, so only the report at fault fails; a transient
//! failure (connection lost, deadlock, serialization, timeout) fails the batch with 503.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::submissions::{report_key, Columns, ReportKey};
use super::StoreError;
use crate::domain::Submission;
use crate::telemetry::Chain;

#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most reports in one statement.
    pub batch_max: usize,
    /// Reports that may wait for a batch.
    pub queue_capacity: usize,
    /// Batches committing at once: while one commits, the next one fills.
    pub concurrent_batches: usize,
    /// Longest a report waits for its batch before the handler gives up with 503.
    pub batch_timeout: Duration,
}

/// The outcome of a committed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub submission_id: i64,
    /// False when the report overwrote one stored before (a retry).
    pub inserted: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the write queue is full")]
    QueueFull,
    #[error("the writer has stopped")]
    Stopped,
    #[error("the batch did not commit in time")]
    TimedOut,
    #[error("the batch could not be committed")]
    Unavailable(#[source] Arc<StoreError>),
    #[error("the database refused the report")]
    Refused(#[source] Arc<StoreError>),
    #[error("the database did not confirm the report")]
    Unconfirmed,
}

type Reply = oneshot::Sender<Result<Stored, WriteError>>;

struct Job {
    report: Submission,
    reply: Reply,
}

/// A handle to the writer task; cheap to clone. The task ends, after committing what it holds,
/// once every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    batch_timeout: Duration,
}

impl Writer {
    pub fn start(pool: Pool, config: WriterConfig) -> (Self, JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(config.queue_capacity);
        let task = tokio::spawn(run(pool, jobs, config));
        let writer = Self {
            queue,
            batch_timeout: config.batch_timeout,
        };
        (writer, task)
    }

    /// Stores a report; returns once its batch has committed.
    pub async fn store(&self, report: Submission) -> Result<Stored, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { report, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WriteError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => WriteError::Stopped,
            })?;
        match tokio::time::timeout(self.batch_timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(WriteError::Stopped),
            Err(_) => Err(WriteError::TimedOut),
        }
    }

    /// Reports waiting in the queue for a batch.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

/// Rows of `submission_counts` the batches spread over. A batch holds its row's lock until it
/// commits, so batches committing at once, in this instance or another, should not share one:
/// each instance starts at a random row and uses `concurrent_batches` rows from there.
const COUNT_SHARDS: u64 = 1024;

async fn run(pool: Pool, mut jobs: mpsc::Receiver<Job>, config: WriterConfig) {
    let committers = Arc::new(Semaphore::new(config.concurrent_batches));
    let mut batch = Vec::with_capacity(config.batch_max);
    let first_shard = RandomState::new().hash_one(std::process::id()) % COUNT_SHARDS;
    let mut batches: u64 = 0;
    while jobs.recv_many(&mut batch, config.batch_max).await > 0 {
        let own = batches % config.concurrent_batches as u64;
        let shard = i16::try_from((first_shard + own) % COUNT_SHARDS).unwrap_or(0);
        batches = batches.wrapping_add(1);
        // Waiting for a free committer lets more reports gather: the next batch is larger.
        let Ok(permit) = committers.clone().acquire_owned().await else {
            break;
        };
        let ready = std::mem::replace(&mut batch, Vec::with_capacity(config.batch_max));
        let pool = pool.clone();
        let timeout = config.batch_timeout;
        tokio::spawn(async move {
            commit(&pool, ready, shard, timeout).await;
            drop(permit);
        });
    }
    // Every handle is gone: wait for the batches still committing.
    let all = u32::try_from(config.concurrent_batches).unwrap_or(u32::MAX);
    let _ = committers.acquire_many(all).await;
    tracing::info!("writer stopped");
}

/// Commits one batch and answers each of its reports.
async fn commit(pool: &Pool, jobs: Vec<Job>, shard: i16, timeout: Duration) {
    let received = jobs.len();
    // One statement cannot update a row twice: reports for the same key merge, latest wins,
    // and all their senders get the same answer.
    let mut slots: HashMap<ReportKey, usize> = HashMap::with_capacity(received);
    let mut reports: Vec<(Submission, Vec<Reply>)> = Vec::with_capacity(received);
    let mut abandoned = 0;
    for job in jobs {
        if job.reply.is_closed() {
            abandoned += 1;
            continue;
        }
        let key = report_key(&job.report);
        match slots.get(&key) {
            Some(&slot) => {
                reports[slot].0 = job.report;
                reports[slot].1.push(job.reply);
            }
            None => {
                slots.insert(key, reports.len());
                reports.push((job.report, vec![job.reply]));
            }
        }
    }
    if abandoned > 0 {
        metrics::counter!("tally_writer_abandoned_reports_total").increment(abandoned);
    }
    if reports.is_empty() {
        return;
    }
    // In key order: concurrent batches lock the rows they share in the same order.
    reports.sort_unstable_by_key(|(report, _)| report_key(report));
    let mut columns = Columns::with_capacity(reports.len());
    let mut keys = Vec::with_capacity(reports.len());
    let mut waiters = Vec::with_capacity(reports.len());
    for (report, replies) in reports {
        keys.push(report_key(&report));
        columns.push(report);
        waiters.push(replies);
    }
    metrics::histogram!("tally_batch_reports").record(received as f64);

    let started = std::time::Instant::now();
    let mut parts: Vec<Range<usize>> = Vec::with_capacity(1);
    parts.push(0..columns.len());
    while let Some(rows) = parts.pop() {
        match upsert(pool, &columns, shard, rows.clone(), timeout).await {
            Ok(stored) => {
                for (key, submission_id, inserted) in stored {
                    // `keys` is sorted (see above).
                    let Ok(slot) = keys[rows.clone()].binary_search(&key) else {
                        continue;
                    };
                    for (nth, reply) in waiters[rows.start + slot].drain(..).enumerate() {
                        let _ = reply.send(Ok(Stored {
                            submission_id,
                            inserted: inserted && nth == 0,
                        }));
                    }
                }
                // A report Postgres did not return was not stored: say so rather than hang.
                answer(&mut waiters[rows], &WriteError::Unconfirmed);
            }
            Err(error) => {
                metrics::counter!("tally_batch_failures_total").increment(1);
                let reports = rows.len();
                if error.is_transient() {
                    tracing::warn!(error = %Chain(&error), reports, "batch not committed");
                    answer(
                        &mut waiters[rows],
                        &WriteError::Unavailable(Arc::new(error)),
                    );
                } else if reports > 1 {
                    tracing::warn!(error = %Chain(&error), reports, "batch refused, retrying it in halves");
                    let middle = rows.start + reports / 2;
                    parts.push(middle..rows.end);
                    parts.push(rows.start..middle);
                } else {
                    answer(&mut waiters[rows], &WriteError::Refused(Arc::new(error)));
                }
            }
        }
    }
    metrics::histogram!("tally_batch_commit_duration_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// One statement for `rows` of the batch. A connection whose statement overran is closed, not
/// returned to the pool: it may still be waiting on the database.
async fn upsert(
    pool: &Pool,
    columns: &Columns,
    shard: i16,
    rows: Range<usize>,
    timeout: Duration,
) -> Result<Vec<(ReportKey, i64, bool)>, StoreError> {
    let client = pool.get().await?;
    match tokio::time::timeout(timeout, columns.upsert(&client, shard, rows)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            drop(Object::take(client));
            Err(StoreError::TimedOut(timeout))
        }
    }
}

fn answer(waiters: &mut [Vec<Reply>], outcome: &WriteError) {
    for reply in waiters.iter_mut().flat_map(|replies| replies.drain(..)) {
        let _ = reply.send(Err(outcome.clone()));
    }
}
