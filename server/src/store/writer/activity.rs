//! Every other product's days (`activity`): in one transaction, a batch's folded events are
//! appended to `activity_added` and its daily reports put in place of their day's row in
//! `activity`. `fold_added` adds the appended rows into `activity` when the rollup next runs,
//! a minute of batches of a day at once (migration V15): an insert is about a fifth of the
//! cost of updating a day's row that grows.
//!
//! A request with a fingerprint counts once: its fingerprint is inserted first, and only the
//! requests whose fingerprint was new (to the table and to the batch) add their rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use chrono::NaiveDate;
use deadpool_postgres::{Object, Pool};
use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::Json;

use super::{in_halves, within_deadline, Answers, Batch, Waiting};
use crate::domain::activity::{Counts, Folded, Merge};
use crate::store::StoreError;

/// The outcome of a committed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// False when the same batch was counted before (a resend): nothing was added.
    pub counted: bool,
}

/// Batches of folded requests of the products stored in `activity`.
pub struct Activity;

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
        // Says of each job whether it was counted.
        let write = |range: Range<usize>| {
            within_deadline(pool, timeout, async |client| {
                transaction(client, &jobs[range]).await
            })
        };
        in_halves(&mut waiters, write, |_, counted, waiters, answers| {
            for (replies, counted) in waiters.iter_mut().zip(counted) {
                for reply in replies.drain(..) {
                    answers.give(reply, Ok(Counted { counted }));
                }
            }
        })
        .await
    }
}

type RowKey<'a> = (&'a str, &'a str, NaiveDate);

async fn transaction(client: &mut Object, jobs: &[Folded]) -> Result<Vec<bool>, StoreError> {
    let transaction = client.transaction().await?;
    let fresh = fresh_fingerprints(&transaction, jobs).await?;
    let mut taken = HashSet::new();
    let counted: Vec<bool> = jobs
        .iter()
        .map(|job| {
            job.fingerprint.is_none_or(|fingerprint| {
                let key = (job.product.to_owned(), fingerprint);
                fresh.contains(&key) && taken.insert(key)
            })
        })
        .collect();
    // One statement cannot touch a row twice: the rows of one installation and day merge
    // here first, in key order so that concurrent batches lock replaced rows in one order.
    let mut rows: BTreeMap<RowKey<'_>, (Merge, Counts)> = BTreeMap::new();
    for job in jobs
        .iter()
        .zip(&counted)
        .filter(|(_, c)| **c)
        .map(|(j, _)| j)
    {
        for row in &job.rows {
            let key = (job.product, row.installation.as_str(), row.day);
            match rows.get_mut(&key) {
                Some((Merge::Add, counts)) if job.merge == Merge::Add => {
                    for (name, value) in &row.counts {
                        *counts.entry(name.clone()).or_default() += value;
                    }
                }
                Some(stored) => *stored = (job.merge, row.counts.clone()),
                None => {
                    rows.insert(key, (job.merge, row.counts.clone()));
                }
            }
        }
    }
    for merge in [Merge::Add, Merge::Replace] {
        let chosen: Vec<(&RowKey<'_>, &Counts)> = rows
            .iter()
            .filter(|(_, (m, _))| *m == merge)
            .map(|(key, (_, counts))| (key, counts))
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let products: Vec<&str> = chosen.iter().map(|(key, _)| key.0).collect();
        let installations: Vec<&str> = chosen.iter().map(|(key, _)| key.1).collect();
        let days: Vec<NaiveDate> = chosen.iter().map(|(key, _)| key.2).collect();
        let counts: Vec<Json<&Counts>> = chosen.iter().map(|(_, counts)| Json(*counts)).collect();
        let statement = transaction
            .prepare_cached(match merge {
                Merge::Add => APPEND_DAYS,
                Merge::Replace => REPLACE_DAYS,
            })
            .await?;
        transaction
            .execute(&statement, &[&products, &installations, &days, &counts])
            .await?;
        // Appended days register when they are folded, once a minute instead of per batch.
        if merge == Merge::Replace {
            register(&transaction, &products, &installations, &days).await?;
        }
    }
    transaction.commit().await?;
    Ok(counted)
}

/// Inserts the batch's fingerprints; returns those that were not there before.
async fn fresh_fingerprints(
    transaction: &deadpool_postgres::Transaction<'_>,
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
    let statement = transaction
        .prepare_cached(
            "INSERT INTO batch_fingerprints (product, fingerprint, received_on)
             SELECT product, fingerprint, current_date
             FROM UNNEST($1::text[], $2::bytea[]) AS t(product, fingerprint)
             ORDER BY product, fingerprint
             ON CONFLICT (product, fingerprint) DO NOTHING
             RETURNING product, fingerprint",
        )
        .await?;
    let rows = transaction
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

const APPEND_DAYS: &str = "INSERT INTO activity_added (product, installation_id, day, received_at, counts)
     SELECT product, installation_id, day, now(), counts
     FROM UNNEST($1::text[], $2::text[], $3::date[], $4::jsonb[]) AS t(product, installation_id, day, counts)";

const REPLACE_DAYS: &str = "INSERT INTO activity (product, installation_id, day, received_at, counts)
     SELECT product, installation_id, day, now(), counts
     FROM UNNEST($1::text[], $2::text[], $3::date[], $4::jsonb[]) AS t(product, installation_id, day, counts)
     ON CONFLICT (product, installation_id, day)
     DO UPDATE SET received_at = now(), counts = EXCLUDED.counts";

/// Installations seen, with the first day each was active (an older day may arrive later):
/// registered with a daily report, or when their appended events are folded. The registry
/// serves the rollup's new and known installations, which reads folded days only.
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
/// The appended rows are summed here, streamed, one map per installation and day: summing a
/// minute of batches' keys in SQL (millions of `jsonb_each` rows) spilled its aggregate to disk
/// and took 60 to 90 µs an appended row. Only the summed keys are then added into each stored
/// day (`||` keeps its other keys, V14), and the day is stamped `received_at = now()`, by which
/// the rollup finds changed days: a run that did not see the appended rows (one of an instance
/// of the previous version) cannot have moved its watermark past them.
pub async fn fold_added(client: &mut Object) -> Result<u64, StoreError> {
    let transaction = client.transaction().await?;
    let statement = transaction
        .prepare_cached(
            "DELETE FROM activity_added RETURNING product, installation_id, day, counts",
        )
        .await?;
    let rows = transaction
        .query_raw(&statement, std::iter::empty::<&str>())
        .await?;
    pin_mut!(rows);
    let mut sums = Sums::default();
    let mut folded = 0;
    while let Some(row) = rows.try_next().await? {
        let Json(counts): Json<Counts> = row.try_get(3)?;
        sums.add((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?), counts);
        folded += 1;
    }
    let statement = transaction.prepare_cached(ADD_DAYS).await?;
    // In key order (the map's), so that two folds lock days in the same order.
    let days: Vec<_> = sums.days.iter().collect();
    for chunk in days.chunks(FOLD_CHUNK) {
        let products: Vec<&str> = chunk.iter().map(|((p, _, _), _)| p.as_str()).collect();
        let installations: Vec<&str> = chunk.iter().map(|((_, i, _), _)| i.as_str()).collect();
        let dates: Vec<NaiveDate> = chunk.iter().map(|((_, _, d), _)| *d).collect();
        let counts: Vec<BTreeMap<&str, f64>> =
            chunk.iter().map(|(_, day)| sums.named(day)).collect();
        let counts: Vec<Json<&BTreeMap<&str, f64>>> = counts.iter().map(Json).collect();
        transaction
            .execute(&statement, &[&products, &installations, &dates, &counts])
            .await?;
        register(&transaction, &products, &installations, &dates).await?;
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

/// The appended rows summed per installation and day. Each key's name is kept once: the same
/// few dozen names recur in every day, and a minute of 10,000 installations' days holding
/// their own copies took the server's RSS from 32 to 89 MiB. A day's sums are a short vector
/// kept in the order of the names' ids (40 entries take 640 bytes, a map of them twice that).
#[derive(Default)]
struct Sums {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    days: BTreeMap<(String, String, NaiveDate), Vec<(u32, f64)>>,
}

impl Sums {
    fn add(&mut self, day: (String, String, NaiveDate), counts: Counts) {
        let day = self.days.entry(day).or_default();
        for (name, amount) in counts {
            let id = match self.ids.get(&name) {
                Some(id) => *id,
                None => {
                    let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
                    self.names.push(name.clone());
                    self.ids.insert(name, id);
                    id
                }
            };
            match day.binary_search_by_key(&id, |(id, _)| *id) {
                Ok(at) => day[at].1 += amount,
                Err(at) => day.insert(at, (id, amount)),
            }
        }
    }

    fn named<'a>(&'a self, day: &[(u32, f64)]) -> BTreeMap<&'a str, f64> {
        day.iter()
            .filter_map(|(id, amount)| Some((self.names.get(*id as usize)?.as_str(), *amount)))
            .collect()
    }
}

/// Days added into `activity` by one statement of a fold.
const FOLD_CHUNK: usize = 1_000;

const ADD_DAYS: &str = "INSERT INTO activity AS stored (product, installation_id, day, received_at, counts)
     SELECT product, installation_id, day, now(), counts
     FROM UNNEST($1::text[], $2::text[], $3::date[], $4::jsonb[]) AS t(product, installation_id, day, counts)
     ON CONFLICT (product, installation_id, day)
     DO UPDATE SET received_at = EXCLUDED.received_at, counts = stored.counts || coalesce(
         (SELECT jsonb_object_agg(added.key,
                                  coalesce((stored.counts -> added.key)::numeric, 0) + added.value::numeric)
          FROM jsonb_each(EXCLUDED.counts) AS added),
         '{}'::jsonb)";
