//! Group commit: handlers hand a valid job to a writer and wait; the writer commits every job
//! that is waiting (up to `batch_max`) together and then answers each of them. What a batch
//! writes is the `Batch`'s business (`activity`: every product's days); the queueing, the
//! bounds and the answers are its own.
//!
//! Nothing is acknowledged before its batch has committed (`synchronous_commit` stays on).
//! The queue is bounded: when it is full, or the database is away, the answer is an
//! immediate error that the handler turns into 503 + Retry-After, never a hang.
//!
//! A job whose sender has stopped waiting (it was answered 503, or hung up) is not written:
//! under overload the database would otherwise do the work twice while clients retry.

mod activity;
mod key_numbers;

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::StoreError;
use crate::telemetry::Chain;

pub use activity::{fold_added, Activity, Counted, Stored};
pub(super) use key_numbers::unnumbered;

#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most jobs in one batch.
    pub batch_max: usize,
    /// Jobs that may wait for a batch.
    pub queue_capacity: usize,
    /// Batches committing at once: while one commits, the next one fills.
    pub concurrent_batches: usize,
    /// Longest a job waits for its batch before the handler gives up with 503.
    pub batch_timeout: Duration,
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

/// What a writer commits: the jobs of one batch, answered each through its reply.
pub trait Batch: Send + Sync + Sized + 'static {
    type Job: Send + 'static;
    type Stored: Send + 'static;

    /// Commits `jobs` (none abandoned); returns the answer to every one of them.
    fn commit(
        &self,
        pool: &Pool,
        jobs: Vec<Waiting<Self>>,
        timeout: Duration,
    ) -> impl Future<Output = Answers<Self::Stored>> + Send;
}

type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

/// The answers of a batch, decided when its statements have run and sent once its committer is
/// free again: waking a batch's senders takes a while, and the next batch commits meanwhile
/// instead of after it.
pub struct Answers<T>(Vec<(Reply<T>, Result<T, WriteError>)>);

impl<T> Answers<T> {
    fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    fn give(&mut self, reply: Reply<T>, outcome: Result<T, WriteError>) {
        self.0.push((reply, outcome));
    }

    fn send(self) {
        for (reply, outcome) in self.0 {
            let _ = reply.send(outcome);
        }
    }
}

/// A job and the sender waiting for it.
pub struct Waiting<B: Batch> {
    job: B::Job,
    reply: Reply<B::Stored>,
}

/// A handle to a writer task; cheap to clone. The task ends, after committing what it holds,
/// once every handle is dropped.
pub struct Writer<B: Batch = Activity> {
    queue: mpsc::Sender<Waiting<B>>,
    batch_timeout: Duration,
}

impl<B: Batch> Clone for Writer<B> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            batch_timeout: self.batch_timeout,
        }
    }
}

impl Writer<Activity> {
    /// The writer of every product's days.
    pub fn start(pool: Pool, config: WriterConfig) -> std::io::Result<(Self, JoinHandle<()>)> {
        Self::start_with(Activity::default(), pool, config)
    }
}

impl<B: Batch> Writer<B> {
    /// Runs the writer, its batches and its connections on a thread of their own. On the
    /// server's shared runtime they were handed between its two worker threads: on their own
    /// thread the server spends 13% less CPU a report and `/submit` takes 1.10 times the
    /// requests a second (load-tests/README.md, "Seventeenth session"). The connections are
    /// the writer's own pool's, which nothing else uses.
    fn start_with(
        batch: B,
        pool: Pool,
        config: WriterConfig,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (queue, jobs) = mpsc::channel(config.queue_capacity);
        let task = tokio::task::spawn_blocking(move || {
            runtime.block_on(run(Arc::new(batch), pool, jobs, config));
        });
        let writer = Self {
            queue,
            batch_timeout: config.batch_timeout,
        };
        Ok((writer, task))
    }

    /// Stores a job; returns once its batch has committed.
    pub async fn store(&self, job: B::Job) -> Result<B::Stored, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Waiting { job, reply })
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

    /// Jobs waiting in the queue for a batch.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

async fn run<B: Batch>(
    batch: Arc<B>,
    pool: Pool,
    mut jobs: mpsc::Receiver<Waiting<B>>,
    config: WriterConfig,
) {
    let committers = Arc::new(Semaphore::new(config.concurrent_batches));
    let mut waiting = Vec::with_capacity(config.batch_max);
    while jobs.recv_many(&mut waiting, config.batch_max).await > 0 {
        // Waiting for a free committer lets more jobs gather: the batch takes them too, rather
        // than leaving them to wait for a commit after it.
        let Ok(permit) = committers.clone().acquire_owned().await else {
            break;
        };
        while waiting.len() < config.batch_max {
            match jobs.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        let mut ready = std::mem::replace(&mut waiting, Vec::with_capacity(config.batch_max));
        let before = ready.len();
        ready.retain(|job| !job.reply.is_closed());
        let abandoned = before - ready.len();
        if abandoned > 0 {
            metrics::counter!("tally_writer_abandoned_reports_total").increment(abandoned as u64);
        }
        if ready.is_empty() {
            continue;
        }
        let (batch, pool) = (batch.clone(), pool.clone());
        let timeout = config.batch_timeout;
        tokio::spawn(async move {
            let answers = batch.commit(&pool, ready, timeout).await;
            drop(permit);
            answers.send();
        });
    }
    // Every handle is gone: wait for the batches still committing.
    let all = u32::try_from(config.concurrent_batches).unwrap_or(u32::MAX);
    let _ = committers.acquire_many(all).await;
    tracing::info!("writer stopped");
}

/// Writes the jobs `0..waiters.len()` with `write`, one range at a time; a range the database
/// refuses is retried in halves, so only the job at fault fails, while a transient failure
/// fails its range with 503. `written` gives the answers of each range written; all of them are
/// returned, to be sent once the batch's committer is free.
async fn in_halves<S, T, Fut>(
    waiters: &mut [Vec<Reply<S>>],
    write: impl Fn(Range<usize>) -> Fut,
    mut written: impl FnMut(Range<usize>, T, &mut [Vec<Reply<S>>], &mut Answers<S>),
) -> Answers<S>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut answers = Answers::with_capacity(waiters.len());
    let mut parts: Vec<Range<usize>> = Vec::with_capacity(1);
    parts.push(0..waiters.len());
    while let Some(rows) = parts.pop() {
        match write(rows.clone()).await {
            Ok(outcome) => written(rows.clone(), outcome, &mut waiters[rows], &mut answers),
            Err(error) => {
                metrics::counter!("tally_batch_failures_total").increment(1);
                let jobs = rows.len();
                if error.is_transient() {
                    tracing::warn!(error = %Chain(&error), jobs, "batch not committed");
                    let error = WriteError::Unavailable(Arc::new(error));
                    answer(&mut waiters[rows], &error, &mut answers);
                } else if jobs > 1 {
                    tracing::warn!(error = %Chain(&error), jobs, "batch refused, retrying it in halves");
                    let middle = rows.start + jobs / 2;
                    parts.push(middle..rows.end);
                    parts.push(rows.start..middle);
                } else {
                    let error = WriteError::Refused(Arc::new(error));
                    answer(&mut waiters[rows], &error, &mut answers);
                }
            }
        }
    }
    answers
}

/// Runs `work` on a connection of `pool` for at most `timeout`. A connection whose work
/// overran is closed, not returned to the pool: it may still be working in the database.
async fn within_deadline<T>(
    pool: &Pool,
    timeout: Duration,
    work: impl AsyncFnOnce(&mut Object) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut client = pool.get().await?;
    match tokio::time::timeout(timeout, work(&mut client)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            drop(Object::take(client));
            Err(StoreError::TimedOut(timeout))
        }
    }
}

/// Answers every sender of `waiters` with the same error.
fn answer<T>(waiters: &mut [Vec<Reply<T>>], outcome: &WriteError, answers: &mut Answers<T>) {
    for reply in waiters.iter_mut().flat_map(|replies| replies.drain(..)) {
        answers.give(reply, Err(outcome.clone()));
    }
}
