//! An event product's daily tables: from `activity` (one row per installation per day, its
//! events summed) to `activity_daily` (per day and key), the day sets (per day and key, the
//! installations active: `presence`) and `activity_windows` (installations active in the 1, 7
//! and 30 days ending each day, and with each event type: any day with the key counts). What to
//! roll is decided for every product alike (`super::incremental`).

use std::time::Instant;

use chrono::{Duration, NaiveDate};
use deadpool_postgres::{GenericClient, Object, Pool, Transaction};
use foldhash::{HashMap, HashMapExt};
use tokio_postgres::error::SqlState;

use super::presence::{DaySets, Presence};
use super::windows::{ANY, LONGEST_WINDOW};
use super::{Locked, Rolled, CHUNK_DAYS};
use crate::domain::activity::key;
use crate::domain::Product;
use crate::store::{self, DaySet, KeySum, StoreError, WindowRow};
use crate::telemetry::Chain;

/// Replaces the daily sums and the day sets of the `changed` days, and the windows of
/// `ranges`, in one transaction. The sets of a range's days not built yet (an upgraded
/// database's) are built first. Nothing before `kept_from` is rolled: its raw rows are gone.
/// More than a day to build is read on two connections at once, the second from `pool` if it
/// has one to spare.
pub(super) async fn roll(
    client: &mut Object,
    pool: &Pool,
    product: &Product,
    changed: &[NaiveDate],
    ranges: Vec<(NaiveDate, NaiveDate)>,
    kept_from: NaiveDate,
) -> Result<Rolled, StoreError> {
    let began = Instant::now();
    // Position 0 is any activity; the event types follow.
    let keys: Vec<String> = std::iter::once(ANY.to_owned())
        .chain(product.event_types().map(|(name, _)| key::event(name)))
        .collect();
    let product = product.name();
    let tx = client.transaction().await?;
    store::read_days_by_index(&tx).await?;
    let mut days: Vec<NaiveDate> = changed
        .iter()
        .copied()
        .filter(|d| *d >= kept_from)
        .collect();
    days.sort_unstable();
    let summed = days.clone();
    let mut rolled = Rolled::default();
    // The shortest window is one day: days before `kept_from` have nothing left to count.
    let ranges: Vec<(NaiveDate, NaiveDate)> = ranges
        .into_iter()
        .map(|(from, to)| (from.max(kept_from), to))
        .filter(|(from, to)| from <= to)
        .collect();
    let mut build = days;
    for (from, to) in &ranges {
        let first = (*from - Duration::days(LONGEST_WINDOW - 1)).max(kept_from);
        let built = store::built_days(&tx, product, (first, *to)).await?;
        build.extend(
            first
                .iter_days()
                .take_while(|day| day <= to)
                .filter(|day| !built.contains(day)),
        );
    }
    build.sort_unstable();
    build.dedup();
    let mut numbers = Numbers::default();
    let mut positions = HashMap::new();
    if let Some(first) = build.first() {
        store::number_registered_since(&tx, product, *first).await?;
        numbers = installation_numbers(&tx, product).await?;
        positions = event_positions(&tx, &keys).await?;
    }
    let reading = Reading {
        product,
        keys: &keys,
        positions,
        summed: &summed,
    };
    let mut beside = match build.len() {
        0 | 1 => None,
        // A pool with no connection to spare leaves the run reading on its own.
        _ => Locked::beside(pool)
            .await
            .inspect_err(|error| {
                tracing::warn!(error = %Chain(error), "the rollup reads on one connection");
            })
            .ok(),
    };
    {
        let beside_tx = match beside.as_mut() {
            Some(beside) => {
                let beside_tx = beside.client().transaction().await?;
                store::read_days_by_index(&beside_tx).await?;
                Some(beside_tx)
            }
            None => None,
        };
        for chunk in build.chunks(usize::try_from(CHUNK_DAYS).unwrap_or(1)) {
            let beside_tx = beside_tx.as_ref();
            rolled.rows += build_days(&tx, beside_tx, &mut numbers, &reading, chunk).await?;
        }
        if let Some(beside_tx) = beside_tx {
            beside_tx.commit().await?;
        }
    }
    if let Some(beside) = beside {
        beside.unlock().await;
    }
    let built = began.elapsed();
    for (from, to) in ranges {
        roll_windows(&tx, product, &keys, (from, to), kept_from).await?;
        rolled.ranges.push((from, to));
    }
    tx.commit().await?;
    tracing::debug!(
        days = build.len(),
        rows = rolled.rows,
        summed = summed.len(),
        days_ms = built.as_millis() as u64,
        elapsed_ms = began.elapsed().as_millis() as u64,
        "activity days rolled"
    );
    Ok(rolled)
}

/// Rebuilds the day sets of `days`, and the sums of those of them the run sums, from one
/// read of their rows (two, a sums' `SELECT` and the sets' read, took 3.3 and 4.3 s of a
/// year's backfill at 10,000 installations); returns the rows read. With a connection
/// `beside` the run's, half the days are read on each at once: one PostgreSQL process reads a
/// statement's rows, and at 100,000 installations the read was 86 s of a year's 87 s backfill.
async fn build_days(
    tx: &Transaction<'_>,
    beside: Option<&Transaction<'_>>,
    numbers: &mut Numbers,
    reading: &Reading<'_>,
    days: &[NaiveDate],
) -> Result<u64, StoreError> {
    let Reading {
        product,
        keys,
        summed,
        ..
    } = *reading;
    let mut read = match beside {
        Some(beside) if days.len() > 1 => {
            let (mine, theirs) = days.split_at(days.len() / 2);
            let (mut read, other) = tokio::try_join!(
                read_days(tx, numbers, reading, mine),
                read_days(beside, numbers, reading, theirs),
            )?;
            read.merge(other);
            read
        }
        _ => read_days(tx, numbers, reading, days).await?,
    };
    if read.sets.is_none() {
        // Installations registered before they could be numbered (an upgraded database): once.
        store::number_installations(tx, product, days).await?;
        *numbers = installation_numbers(tx, product).await?;
        let rows = read.rows;
        read = read_days(tx, numbers, reading, days).await?;
        read.rows += rows;
    }
    let Some(sets) = read.sets else {
        return Err(unnumbered());
    };
    let rows: Vec<DaySet> = sets
        .serialized()
        .map(|(day, at, installations)| DaySet {
            day,
            key: keys[at].clone(),
            installations,
        })
        .collect();
    store::replace_day_sets(tx, product, days, &rows).await?;
    let summed_days: Vec<NaiveDate> = days
        .iter()
        .copied()
        .filter(|day| summed.binary_search(day).is_ok())
        .collect();
    if !summed_days.is_empty() {
        let sums: Vec<KeySum> = read
            .sums
            .into_iter()
            .map(|((day, key), (amount, installations))| KeySum {
                day,
                key,
                amount,
                installations,
            })
            .collect();
        store::replace_activity_days(tx, product, &summed_days, &sums).await?;
    }
    Ok(read.rows)
}

/// What every read of a run's days shares.
struct Reading<'a> {
    product: &'a str,
    /// Position 0 is any activity; the event types follow.
    keys: &'a [String],
    /// The position of each event type's key by its number.
    positions: HashMap<i32, usize>,
    /// The days whose sums are replaced (sorted).
    summed: &'a [NaiveDate],
}

/// The position in `keys` of each of them that has a number, by its number (a name without one
/// is in no row).
async fn event_positions(
    tx: &Transaction<'_>,
    keys: &[String],
) -> Result<HashMap<i32, usize>, StoreError> {
    let numbers = store::key_numbers(tx, &keys[1..]).await?;
    Ok(keys
        .iter()
        .enumerate()
        .filter_map(|(at, key)| Some((*numbers.get(key)?, at)))
        .collect())
}

/// The product's installations' numbers, by id: looked up here rather than joined in the read,
/// whose hash probes took 13% of the machine's CPU in a year's backfill (`perf`).
type Numbers = HashMap<Box<str>, i32>;

async fn installation_numbers(tx: &Transaction<'_>, product: &str) -> Result<Numbers, StoreError> {
    let mut numbers = Numbers::new();
    store::for_each_installation_number(tx, product, |installation, number| {
        numbers.insert(installation.into(), number);
    })
    .await?;
    Ok(numbers)
}

/// One read of a chunk's rows.
struct DaysRead {
    /// None if a row's installation has no number.
    sets: Option<DaySets>,
    /// Per day to sum and key number: the amount, and the installations with the key (hashed
    /// by `foldhash`: a year's backfill looks up a key of a row 55 million times at 10,000
    /// installations).
    sums: HashMap<(NaiveDate, i32), (f64, i32)>,
    rows: u64,
}

impl DaysRead {
    /// Adds the read of other days.
    fn merge(&mut self, other: DaysRead) {
        self.sets = match (self.sets.take(), other.sets) {
            (Some(mut sets), Some(others)) => {
                sets.append(others);
                Some(sets)
            }
            _ => None,
        };
        self.sums.extend(other.sums);
        self.rows += other.rows;
    }
}

/// The day sets of `days` and the sums of those of them the run sums, from their rows.
async fn read_days(
    client: &impl GenericClient,
    numbers: &Numbers,
    reading: &Reading<'_>,
    days: &[NaiveDate],
) -> Result<DaysRead, StoreError> {
    let Reading {
        product,
        positions,
        summed,
        ..
    } = reading;
    let mut sets = DaySets::new(days);
    let mut sums = HashMap::new();
    let mut numbered = true;
    let rows = store::for_each_day_row(
        client,
        product,
        days,
        |installation, day, row_keys, amounts| {
            if summed.binary_search(&day).is_ok() {
                for (key, amount) in row_keys.iter().zip(amounts.iter()) {
                    let sum: &mut (f64, i32) = sums.entry((day, key)).or_default();
                    sum.0 += amount;
                    sum.1 += 1;
                }
            }
            // Numbers come from an identity column: positive.
            let Some(number) = numbers
                .get(installation)
                .and_then(|n| u32::try_from(*n).ok())
            else {
                numbered = false;
                return;
            };
            let has = row_keys
                .iter()
                .filter_map(|key| positions.get(&key).copied());
            sets.add(number, day, has);
        },
    )
    .await?;
    Ok(DaysRead {
        sets: numbered.then_some(sets),
        sums,
        rows,
    })
}

/// Replaces the windows of `[from, to]` of the product's activity and of each of its event
/// types, counted from the day sets of `[from - 29, to]`, `CHUNK_DAYS` at a time.
async fn roll_windows(
    tx: &Transaction<'_>,
    product: &str,
    keys: &[String],
    (from, to): (NaiveDate, NaiveDate),
    kept_from: NaiveDate,
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    let mut chunk = from;
    while chunk <= to {
        let last = (chunk + Duration::days(CHUNK_DAYS - 1)).min(to);
        let mut presence = Presence::new(chunk, last, keys.len());
        let mut unreadable = None;
        store::for_each_day_set(
            tx,
            product,
            (presence.first_day(), last),
            keys,
            |day, key, set| {
                let Some(at) = keys.iter().position(|k| k == key) else {
                    return;
                };
                if let Err(error) = presence.set(day, at, set) {
                    unreadable = Some(error);
                }
            },
        )
        .await?;
        if unreadable.is_some() {
            return Err(unreadable_set());
        }
        presence.windows(kept_from, |day, window_days, at, installations| {
            rows.push(WindowRow {
                day,
                window_days,
                key: keys[at].clone(),
                installations: i32::try_from(installations).unwrap_or(i32::MAX),
                // Presence is what these windows count, not values.
                positive: None,
                amount: None,
            });
        });
        chunk = last + Duration::days(1);
    }
    store::replace_activity_windows(tx, product, from, to, kept_from, &rows).await
}

/// A stored set that does not read as a roaring bitmap: only the rollup writes them.
fn unreadable_set() -> StoreError {
    StoreError::Refused {
        code: SqlState::DATA_CORRUPTED,
        message: "a set of activity_day_sets does not read as a roaring bitmap".into(),
    }
}

/// A row whose installation has no number once its days' installations were numbered.
fn unnumbered() -> StoreError {
    StoreError::Refused {
        code: SqlState::NO_DATA_FOUND,
        message: "a row's installation has no number in activity_installation_numbers".into(),
    }
}
