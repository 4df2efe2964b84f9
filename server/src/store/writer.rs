//! Group commit: handlers hand a valid report to the writer and wait; the writer commits every
//! report that is waiting (up to `batch_max`) in one statement and then answers each of them.
//!
//! Nothing is acknowledged before its batch has committed (`synchronous_commit` stays on).
//! The queue is bounded: when it is full, or the database is away, the answer is an
//! immediate error that the handler turns into 503 + Retry-After, never a hang.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::submissions::{report_key, Columns, ReportKey};
use super::StoreError;
use crate::domain::Submission;

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
    #[error("the database did not commit the batch in time")]
    TimedOut,
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the batch failed: {0}")]
    Failed(String),
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Query(cause) => Self::Failed(cause),
        }
    }
}

struct Job {
    report: Submission,
    received_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<Stored, WriteError>>,
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
        let job = Job {
            report,
            received_at: Utc::now(),
            reply,
        };
        self.queue.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => WriteError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => {
                WriteError::Unavailable("the writer has stopped".to_owned())
            }
        })?;
        match tokio::time::timeout(self.batch_timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(WriteError::Failed(
                "the writer dropped the report".to_owned(),
            )),
            Err(_) => Err(WriteError::TimedOut),
        }
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
    let mut reports: Vec<(Submission, DateTime<Utc>)> = Vec::with_capacity(received);
    let mut waiters: Vec<Vec<oneshot::Sender<Result<Stored, WriteError>>>> =
        Vec::with_capacity(received);
    for job in jobs {
        let key = report_key(&job.report);
        match slots.get(&key) {
            Some(&slot) => {
                reports[slot] = (job.report, job.received_at);
                waiters[slot].push(job.reply);
            }
            None => {
                slots.insert(key, reports.len());
                reports.push((job.report, job.received_at));
                waiters.push(vec![job.reply]);
            }
        }
    }
    // In key order: concurrent batches lock the rows they share in the same order.
    reports.sort_unstable_by_key(|(report, _)| report_key(report));
    let mut columns = Columns::with_capacity(reports.len());
    for (report, received_at) in reports {
        columns.push(report, received_at);
    }
    metrics::histogram!("tally_batch_size").record(received as f64);

    let started = std::time::Instant::now();
    let outcome = match tokio::time::timeout(timeout, upsert(pool, &columns, shard)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(WriteError::TimedOut),
    };
    metrics::histogram!("tally_batch_commit_seconds").record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(stored) => {
            for (key, submission_id, inserted) in stored {
                let Some(&slot) = slots.get(&key) else {
                    continue;
                };
                for (nth, reply) in waiters[slot].drain(..).enumerate() {
                    let _ = reply.send(Ok(Stored {
                        submission_id,
                        inserted: inserted && nth == 0,
                    }));
                }
            }
            // A report Postgres did not return was not stored: say so rather than hang.
            answer_all(
                waiters,
                &WriteError::Failed("report missing from batch result".into()),
            );
        }
        Err(error) => {
            metrics::counter!("tally_batch_failures_total").increment(1);
            tracing::error!(%error, reports = received, "batch not committed");
            answer_all(waiters, &error);
        }
    }
}

async fn upsert(
    pool: &Pool,
    columns: &Columns,
    shard: i16,
) -> Result<Vec<(ReportKey, i64, bool)>, WriteError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    Ok(columns.upsert(&client, shard).await?)
}

fn answer_all(waiters: Vec<Vec<oneshot::Sender<Result<Stored, WriteError>>>>, error: &WriteError) {
    for reply in waiters.into_iter().flatten() {
        let _ = reply.send(Err(error.clone()));
    }
}
