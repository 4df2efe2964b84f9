//! Every product's days (`activity`): in one transaction, a batch's folded events are appended
//! to `activity_added` and its reports put in place of their day's row in `activity`.
//! `fold_added` adds the appended rows into `activity` when the rollup next runs, a minute of
//! batches of a day at once (migration V15): an insert is about a fifth of the cost of updating
//! a day's row that grows.
//!
//! A request with a fingerprint counts once: its fingerprint is inserted first, and only the
//! requests whose fingerprint was new (to the table and to the batch) add their rows. A report
//! with a period (Printernizer's) is answered its id, kept by a resend, and whether it is new.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Object, Pool};
use futures_util::future::{try_join, try_join4};
use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::ToSql;

use super::key_numbers::{unnumbered, KeyNumbers};
use super::{in_halves, within_deadline, Answers, Batch, Waiting};
use crate::domain::activity::{Counts, Folded, Merge, Report};
use crate::store::installation_lock;
use crate::store::StoreError;

/// The outcome of a committed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// False when the same batch was counted before (a resend): nothing was added.
    pub counted: bool,
    /// What became of the request's report, for a report with a period.
    pub report: Option<Stored>,
}

/// The outcome of a committed report with a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub submission_id: i64,
    /// False when the report replaced one stored before (a resend, or a later report of the
    /// same installation and day), or when an earlier request of the batch wrote it first.
    pub inserted: bool,
}

/// Batches of folded requests of every product.
#[derive(Default)]
pub struct Activity {
    keys: KeyNumbers,
}

impl Batch for Activity {
    type Job = Folded;
    type Stored = Counted;

    async fn commit(
        &self,
        pool: &Pool,
        jobs: Vec<Waiting<Self>>,
        timeout: Duration,
    ) -> Answers<Counted> {
        let (jobs, mut waiters): (Vec<Folded>, Vec<_>) = jobs
            .into_iter()
            .map(|Waiting { job, reply }| (job, vec![reply]))
            .unzip();
        metrics::histogram!("tally_batch_reports").record(jobs.len() as f64);
        let started = std::time::Instant::now();
        let write = |range: Range<usize>| {
            within_deadline(pool, timeout, async |client| {
                store_batch(client, &jobs[range], &self.keys).await
            })
        };
        let answers = in_halves(&mut waiters, write, |_, counted, waiters, answers| {
            for (replies, counted) in waiters.iter_mut().zip(counted) {
                for reply in replies.drain(..) {
                    answers.give(reply, Ok(counted));
                }
            }
        })
        .await;
        metrics::histogram!("tally_batch_commit_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        answers
    }
}

type RowKey<'a> = (&'a str, &'a str, NaiveDate);

/// A row of the batch as it is written: merged from every request of the batch for its key.
/// Its counts are a request's own until another request's are added to them.
struct Row<'a> {
    merge: Merge,
    counts: Cow<'a, Counts>,
    report: Option<&'a Report>,
}

/// Writes the requests `jobs`; says of each whether it was counted, and its report's outcome.
/// A batch of reports alone (`/submit`'s) is one statement, without a transaction around it.
async fn store_batch(
    client: &mut Object,
    jobs: &[Folded],
    keys: &KeyNumbers,
) -> Result<Vec<Counted>, StoreError> {
    let fingerprinted = jobs.iter().any(|job| job.fingerprint.is_some());
    let names = jobs
        .iter()
        .flat_map(|job| &job.rows)
        .flat_map(|day| day.counts.keys());
    let numbers = keys.of(&*client, names.map(String::as_str)).await?;
    let adds = jobs.iter().any(|job| job.merge == Merge::Add);
    let replaces = jobs.iter().any(|job| job.merge == Merge::Replace);
    if fingerprinted || (adds && replaces) {
        let transaction = client.transaction().await?;
        let counted = statements(&transaction, jobs, fingerprinted, &numbers, true).await?;
        transaction.commit().await?;
        Ok(counted)
    } else {
        statements(&*client, jobs, false, &numbers, false).await
    }
}

/// `in_transaction`: whether a transaction is open around these statements. Without one, the
/// reports' statement and the locks it needs get their own, sent with them at once: the
/// writer waits one round trip a batch, where in turns (begin, lock, write, commit) it waited
/// four, and `/submit` took 0.84 of the requests a second of the build before the locks.
async fn statements(
    client: &impl GenericClient,
    jobs: &[Folded],
    fingerprinted: bool,
    numbers: &foldhash::HashMap<&str, i32>,
    in_transaction: bool,
) -> Result<Vec<Counted>, StoreError> {
    let counted: Vec<bool> = if fingerprinted {
        let fresh = fresh_fingerprints(client, jobs).await?;
        let mut taken = HashSet::new();
        jobs.iter()
            .map(|job| {
                job.fingerprint.is_none_or(|fingerprint| {
                    let key = (job.product.to_owned(), fingerprint);
                    fresh.contains(&key) && taken.insert(key)
                })
            })
            .collect()
    } else {
        vec![true; jobs.len()]
    };
    // One statement cannot touch a row twice: the rows of one installation and day merge
    // here first (a later report replaces an earlier one), in key order so that concurrent
    // batches lock replaced rows in one order.
    let mut rows: BTreeMap<RowKey<'_>, Row<'_>> = BTreeMap::new();
    for job in jobs
        .iter()
        .zip(&counted)
        .filter(|(_, c)| **c)
        .map(|(j, _)| j)
    {
        for day in &job.rows {
            let key = (job.product, day.installation.as_str(), day.day);
            let row = || Row {
                merge: job.merge,
                counts: Cow::Borrowed(&day.counts),
                report: job.report.as_ref(),
            };
            match rows.get_mut(&key) {
                Some(stored) if stored.merge == Merge::Add && job.merge == Merge::Add => {
                    let counts = stored.counts.to_mut();
                    for (name, value) in &day.counts {
                        *counts.entry(name.clone()).or_default() += value;
                    }
                }
                Some(stored) => *stored = row(),
                None => {
                    rows.insert(key, row());
                }
            }
        }
    }
    let appended: Vec<(&RowKey<'_>, &Counts)> = rows
        .iter()
        .filter(|(_, row)| row.merge == Merge::Add)
        .map(|(key, row)| (key, &*row.counts))
        .collect();
    if !appended.is_empty() {
        let keys = columns(appended.iter().map(|(key, _)| **key));
        let numbered = Numbered::of(appended.iter().map(|(_, counts)| *counts), numbers)?;
        let statement = client.prepare_cached(APPEND_DAYS).await?;
        let params = numbered.bound(&keys);
        client.execute(&statement, &params).await?;
    }
    let replaced: Vec<(&RowKey<'_>, &Row<'_>)> = rows
        .iter()
        .filter(|(_, row)| row.merge == Merge::Replace)
        .collect();
    let mut written = Vec::new();
    if !replaced.is_empty() {
        let keys = columns(replaced.iter().map(|(key, _)| **key));
        let numbered = Numbered::of(replaced.iter().map(|(_, row)| &*row.counts), numbers)?;
        let period = |at: fn(&Report) -> DateTime<Utc>| -> Vec<Option<DateTime<Utc>>> {
            replaced.iter().map(|(_, r)| r.report.map(at)).collect()
        };
        let (starts, ends) = (period(|r| r.start), period(|r| r.end));
        let statement = client.prepare_cached(REPLACE_DAYS).await?;
        let mut params = numbered.bound(&keys).to_vec();
        params.extend([&starts as &(dyn ToSql + Sync), &ends]);
        // The installations of the reports counted for the summary (with a period) are locked
        // first, in the same transaction (`installation_lock`).
        let (products, installations): (Vec<&str>, Vec<&str>) = replaced
            .iter()
            .filter(|(_, row)| row.report.is_some())
            .map(|(key, _)| (key.0, key.1))
            .unzip();
        written = if products.is_empty() {
            client.query(&statement, &params).await?
        } else {
            let lock = installation_lock::statement(client).await?;
            let locked: [&(dyn ToSql + Sync); 2] = [&products, &installations];
            let lock = client.execute(&lock, &locked);
            let write = client.query(&statement, &params);
            if in_transaction {
                try_join(lock, write).await?.1
            } else {
                let (begin, commit) = (
                    client.batch_execute("BEGIN"),
                    client.batch_execute("COMMIT"),
                );
                try_join4(begin, lock, write, commit).await?.2
            }
        };
    }
    let mut reports: HashMap<(&str, &str, NaiveDate), (i64, bool)> = HashMap::new();
    for row in &written {
        let Some(id) = row.try_get::<_, Option<i64>>(3)? else {
            continue;
        };
        let key = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        reports.insert(key, (id, row.try_get(4)?));
    }
    // A report's senders in one batch share its row: the first is told whether it is new.
    let mut answered = HashSet::new();
    Ok(jobs
        .iter()
        .zip(counted)
        .map(|(job, counted)| {
            let report = job.report.and(job.rows.first()).and_then(|day| {
                let key = (job.product, day.installation.as_str(), day.day);
                let &(submission_id, inserted) = reports.get(&key)?;
                let first = answered.insert(key);
                Some(Stored {
                    submission_id,
                    inserted: inserted && first,
                })
            });
            Counted { counted, report }
        })
        .collect())
}

/// Rows' keys as a statement binds them: products, installations, days.
type Columns<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<NaiveDate>);

/// The key columns of `keys`, one array each.
fn columns<'a>(keys: impl Iterator<Item = RowKey<'a>>) -> Columns<'a> {
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (product, installation, day) in keys {
        columns.0.push(product);
        columns.1.push(installation);
        columns.2.push(day);
    }
    columns
}

/// Rows' counts by key number, as a statement binds them: row `n`'s keys and amounts are the
/// elements `firsts[n]` to `lasts[n]` of `keys` and `amounts`, in ascending order of number.
#[derive(Default)]
struct Numbered {
    keys: Vec<i32>,
    amounts: Vec<f64>,
    firsts: Vec<i32>,
    lasts: Vec<i32>,
}

impl Numbered {
    fn of<'a>(
        rows: impl Iterator<Item = &'a Counts>,
        numbers: &foldhash::HashMap<&str, i32>,
    ) -> Result<Self, StoreError> {
        let mut numbered = Numbered::default();
        let mut row = Vec::new();
        for counts in rows {
            row.clear();
            for (name, amount) in counts {
                let number = numbers.get(name.as_str()).ok_or_else(unnumbered)?;
                row.push((*number, *amount));
            }
            row.sort_unstable_by_key(|(number, _)| *number);
            numbered.push(&row);
        }
        Ok(numbered)
    }

    /// The parameters `$1` to `$7` of a statement of these rows, whose keys are `keys`.
    fn bound<'a>(&'a self, keys: &'a Columns<'_>) -> [&'a (dyn ToSql + Sync); 7] {
        [
            &keys.0,
            &keys.1,
            &keys.2,
            &self.keys,
            &self.amounts,
            &self.firsts,
            &self.lasts,
        ]
    }

    /// Adds a row, its keys in ascending order.
    fn push(&mut self, row: &[(i32, f64)]) {
        // A statement's rows are bounded (a batch's bodies, a fold's chunk): far fewer than
        // 2^31 keys.
        self.firsts.push(self.keys.len() as i32 + 1);
        self.keys.extend(row.iter().map(|(number, _)| number));
        self.amounts.extend(row.iter().map(|(_, amount)| amount));
        self.lasts.push(self.keys.len() as i32);
    }
}

/// Inserts the batch's fingerprints; returns those that were not there before.
async fn fresh_fingerprints(
    client: &impl GenericClient,
    jobs: &[Folded],
) -> Result<HashSet<(String, [u8; 32])>, StoreError> {
    let mut seen = HashSet::new();
    let (products, fingerprints): (Vec<&str>, Vec<&[u8]>) = jobs
        .iter()
        .filter_map(|job| Some((job.product, job.fingerprint.as_ref()?)))
        .filter(|(product, fingerprint)| seen.insert((*product, **fingerprint)))
        .map(|(product, fingerprint)| (product, fingerprint.as_slice()))
        .unzip();
    if products.is_empty() {
        return Ok(HashSet::new());
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO batch_fingerprints (product, fingerprint, received_on)
             SELECT product, fingerprint, current_date
             FROM UNNEST($1::text[], $2::bytea[]) AS t(product, fingerprint)
             ORDER BY product, fingerprint
             ON CONFLICT DO NOTHING
             RETURNING product, fingerprint",
        )
        .await?;
    let rows = client
        .query(&statement, &[&products, &fingerprints])
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let fingerprint: &[u8] = row.get(1);
            Some((row.get(0), fingerprint.try_into().ok()?))
        })
        .collect())
}

/// The appended rows' keys by number (V21), bound as `Numbered`.
const APPEND_DAYS: &str = "INSERT INTO activity_added (product, installation_id, day, received_at, keys, amounts)
     SELECT product, installation_id, day, now(), ($4::int[])[first:last], ($5::float8[])[first:last]
     FROM UNNEST($1::text[], $2::text[], $3::date[], $6::int[], $7::int[])
         AS t(product, installation_id, day, first, last)";

/// Puts each report in place of its day's row, and adds a row of the reports with a period
/// stored anew to the summary's counts (`submission_counts`, V13), with their installations
/// that had no other day, so that the counts move exactly with the rows. The installations are
/// locked first (`installation_lock`): this statement's snapshot then holds every other day
/// committed of them (V25; a registry entry per report cost more than the lock).
/// A report with a period gets its id on insert only, so a resend keeps it. `received_at` is the
/// database's time of the statement's transaction, never an instance's clock: the rollup's
/// watermark is read off the same clock and the writers' open transactions
/// (`store::watermark`), so no row can commit behind it.
const REPLACE_DAYS: &str = "WITH t AS (
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $6::int[], $7::int[],
                         $8::timestamptz[], $9::timestamptz[])
        AS t(product, installation_id, day, first, last, period_start, period_end)),
written AS (
    INSERT INTO activity (product, installation_id, day, received_at, keys, amounts, report_id,
                          period_start, period_end)
    SELECT product, installation_id, day, now(), ($4::int[])[first:last],
           ($5::float8[])[first:last],
           CASE WHEN period_end IS NOT NULL THEN nextval('submission_id_seq') END,
           period_start, period_end
    FROM t
    ON CONFLICT (product, installation_id, day) DO UPDATE SET
        received_at = now(), keys = EXCLUDED.keys, amounts = EXCLUDED.amounts,
        period_start = EXCLUDED.period_start,
        period_end = EXCLUDED.period_end,
        report_id = coalesce(activity.report_id, EXCLUDED.report_id)
    RETURNING product, installation_id, day, report_id, xmax = 0 AS inserted, received_at),
counted AS (
    INSERT INTO submission_counts (product, submissions, installations, latest_received_at)
    SELECT w.product, count(*) FILTER (WHERE w.inserted),
           count(DISTINCT w.installation_id) FILTER (
               WHERE w.inserted AND NOT EXISTS (
                   SELECT FROM activity o
                   WHERE o.product = w.product AND o.installation_id = w.installation_id
                     AND o.day <> w.day)),
           max(w.received_at)
    FROM written w WHERE w.report_id IS NOT NULL GROUP BY w.product)
SELECT product, installation_id, day, report_id, inserted FROM written";

/// Installations seen, with the first day each was active (an older day may arrive later):
/// registered when their appended events are folded. The registry serves an event product's
/// new and known installations, which the rollup reads beside the folded days (a report
/// product counts them from its rows, V25).
const REGISTER: &str =
    "INSERT INTO activity_installations AS known (product, installation_id, first_day)
     SELECT product, installation_id, min(day)
     FROM UNNEST($1::text[], $2::text[], $3::date[]) AS t(product, installation_id, day)
     GROUP BY product, installation_id
     ORDER BY product, installation_id
     ON CONFLICT (product, installation_id)
     DO UPDATE SET first_day = EXCLUDED.first_day WHERE EXCLUDED.first_day < known.first_day";

/// Adds the rows appended since the last fold into `activity`, and deletes them, in one
/// transaction: a reader of `activity_rows` sees each batch once, before or after. Registers
/// the installations of the folded days (23% of the event batches' statement time when each
/// batch registered its own, `BENCH_STATEMENTS`). Returns how many appended rows were folded.
///
/// The appended rows are summed here, streamed, one short vector per installation and day by
/// key number: summing a minute of batches' keys in SQL (millions of `jsonb_each` rows) spilled
/// its aggregate to disk and took 60 to 90 µs an appended row. Only the summed keys are then
/// added into each stored day, by number (V24), and the day is stamped
/// `received_at = now()`, by which the rollup finds changed days: a run that did not see the
/// appended rows (one of an instance of the previous version) cannot have moved its watermark
/// past them.
pub async fn fold_added(client: &mut Object) -> Result<u64, StoreError> {
    let transaction = client.transaction().await?;
    let statement = transaction
        .prepare_cached(
            "DELETE FROM activity_added RETURNING product, installation_id, day, keys, amounts",
        )
        .await?;
    let rows = transaction
        .query_raw(&statement, std::iter::empty::<&str>())
        .await?;
    pin_mut!(rows);
    let mut sums = Sums::default();
    let mut folded = 0;
    while let Some(row) = rows.try_next().await? {
        let day = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        sums.add(day, row.try_get(3)?, row.try_get(4)?);
        folded += 1;
    }
    let statement = transaction.prepare_cached(ADD_DAYS).await?;
    // In key order (the map's), so that two folds lock days in the same order.
    let days: Vec<_> = sums.days.iter().collect();
    for chunk in days.chunks(FOLD_CHUNK) {
        let keys = columns(
            chunk
                .iter()
                .map(|((p, i, d), _)| (p.as_str(), i.as_str(), *d)),
        );
        let mut numbered = Numbered::default();
        for (_, day) in chunk {
            numbered.push(day);
        }
        transaction
            .execute(&statement, &numbered.bound(&keys))
            .await?;
        register(&transaction, &keys.0, &keys.1, &keys.2).await?;
    }
    transaction.commit().await?;
    Ok(folded)
}

/// Registers the installations of `days` (the same length each) with the first of their days.
async fn register(
    transaction: &deadpool_postgres::Transaction<'_>,
    products: &[&str],
    installations: &[&str],
    days: &[NaiveDate],
) -> Result<(), StoreError> {
    let statement = transaction.prepare_cached(REGISTER).await?;
    transaction
        .execute(&statement, &[&products, &installations, &days])
        .await?;
    Ok(())
}

/// The appended rows summed per installation and day. A day's sums are a short vector in the
/// order of the keys' numbers (40 entries take 640 bytes, a map of names twice that, and a
/// minute of 10,000 installations' days holding their own copies of the names took the
/// server's RSS from 32 to 89 MiB), as the stored day holds them.
#[derive(Default)]
struct Sums {
    days: BTreeMap<(String, String, NaiveDate), Vec<(i32, f64)>>,
}

impl Sums {
    fn add(&mut self, day: (String, String, NaiveDate), keys: Vec<i32>, amounts: Vec<f64>) {
        let day = self.days.entry(day).or_default();
        for (number, amount) in keys.into_iter().zip(amounts) {
            match day.binary_search_by_key(&number, |(number, _)| *number) {
                Ok(at) => day[at].1 += amount,
                Err(at) => day.insert(at, (number, amount)),
            }
        }
    }
}

/// Days added into `activity` by one statement of a fold.
const FOLD_CHUNK: usize = 1_000;

const ADD_DAYS: &str = "INSERT INTO activity AS stored (product, installation_id, day, received_at, keys, amounts)
     SELECT product, installation_id, day, now(), ($4::int[])[first:last], ($5::float8[])[first:last]
     FROM UNNEST($1::text[], $2::text[], $3::date[], $6::int[], $7::int[])
         AS t(product, installation_id, day, first, last)
     ON CONFLICT (product, installation_id, day)
     DO UPDATE SET received_at = EXCLUDED.received_at, (keys, amounts) = (
         SELECT array_agg(id ORDER BY id), array_agg(amount ORDER BY id)
         FROM (SELECT id, sum(amount) AS amount
               FROM unnest(stored.keys || EXCLUDED.keys, stored.amounts || EXCLUDED.amounts)
                   AS both_days(id, amount)
               GROUP BY id) AS merged)";
