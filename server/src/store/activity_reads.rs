//! The read side of the daily tables by key (`activity_daily`, `activity_windows`) and of
//! `activity_installations`, on the request's `Daily` connection: every query reads a handful of
//! days by primary key, never the raw rows.

use chrono::NaiveDate;
use tokio_postgres::types::ToSql;

use super::{Daily, StoreError};

/// One key's numbers on one day: the installations counted with it, the sum of their values,
/// and of a window that counts values, those whose value is above zero.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyAmount {
    pub day: NaiveDate,
    pub key: String,
    pub amount: f64,
    pub installations: i64,
    pub positive: Option<i64>,
}

/// Which figures of each day a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// The day's sums over its rows (`activity_daily`): an event product's.
    DaySums,
    /// The window of so many days ending the day (`activity_windows`), as the product's rollup
    /// counted it: a report product's (its 1-day window is its day's reports).
    Window(i16),
}

impl Daily {
    /// Installations active in the `window` ending each day of `[from, to]` with `key` ('' for
    /// any activity, `event/<type>`); days without any are left out.
    pub async fn activity_windows(
        &self,
        product: &str,
        window: i16,
        key: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, i64)>, StoreError> {
        let statement = self
            .client
            .prepare_cached(
                "SELECT day, installations FROM activity_windows
                 WHERE product = $1 AND window_days = $2 AND key = $3 AND day BETWEEN $4 AND $5
                 ORDER BY day",
            )
            .await?;
        let rows = self
            .client
            .query(&statement, &[&product, &window, &key, &from, &to])
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, i64::from(row.try_get::<_, i32>(1)?))))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }

    /// Installations first seen before `from`, and those first seen on each day of
    /// `[from, to]` (days without any left out).
    pub async fn activity_first_days(
        &self,
        product: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(i64, Vec<(NaiveDate, i64)>), StoreError> {
        let before = self
            .client
            .prepare_cached(
                "SELECT count(*) FROM activity_installations WHERE product = $1 AND first_day < $2",
            )
            .await?;
        let per_day = self
            .client
            .prepare_cached(
                "SELECT first_day, count(*) FROM activity_installations
                 WHERE product = $1 AND first_day BETWEEN $2 AND $3
                 GROUP BY first_day ORDER BY first_day",
            )
            .await?;
        let known: i64 = self
            .client
            .query_one(&before, &[&product, &from])
            .await?
            .try_get(0)?;
        let rows = self.client.query(&per_day, &[&product, &from, &to]).await?;
        let days = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        Ok((known, days))
    }

    /// The figures of `keys` on each day of `[from, to]`, in no particular order. Each key is one
    /// range of the table's primary key (key before day in both tables); ordering them by day
    /// sorted every row of a year's read in PostgreSQL (a measure's 4,000 cells: 1.7 of 4.6 ms).
    pub async fn keys(
        &self,
        product: &str,
        cells: Cells,
        keys: Keys<'_>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Vec<KeyAmount>, StoreError> {
        let end;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&product, &from, &to];
        let wanted = match &keys {
            Keys::Listed(keys) => {
                params.push(keys);
                "key = ANY($4)"
            }
            // A range rather than `starts_with`, whose index range a generic plan cannot derive
            // from a parameter.
            Keys::Under(prefix) => {
                end = after_prefix(prefix);
                params.extend([prefix as &(dyn ToSql + Sync), &end]);
                "key >= $4 AND key < $5"
            }
        };
        let window;
        let table = match cells {
            Cells::DaySums => "NULL::int FROM activity_daily WHERE product = $1".to_owned(),
            Cells::Window(days) => {
                window = days;
                params.push(&window);
                format!(
                    "positive FROM activity_windows WHERE product = $1 AND window_days = ${}",
                    params.len()
                )
            }
        };
        // A window that counts presence only has no amounts; none is read so.
        let statement = self
            .client
            .prepare_cached(&format!(
                "SELECT day, key, coalesce(amount, 0), installations, {table}
                   AND day BETWEEN $2 AND $3 AND {wanted}"
            ))
            .await?;
        let rows = self.client.query(&statement, &params).await?;
        rows.iter()
            .map(|row| {
                Ok(KeyAmount {
                    day: row.try_get(0)?,
                    key: row.try_get(1)?,
                    amount: row.try_get(2)?,
                    installations: i64::from(row.try_get::<_, i32>(3)?),
                    positive: row.try_get::<_, Option<i32>>(4)?.map(i64::from),
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }
}

/// Which keys a read wants.
#[derive(Debug, Clone, Copy)]
pub enum Keys<'a> {
    Listed(&'a [String]),
    /// Every key that starts with this prefix.
    Under(&'a str),
}

/// The first string after every string that starts with `prefix`, in the keys' byte order
/// (`COLLATE "C"`): its last character, incremented.
fn after_prefix(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    match end
        .pop()
        .and_then(|last| char::from_u32(u32::from(last) + 1))
    {
        Some(next) => end.push(next),
        // Nothing comes after an empty prefix or char::MAX: no bound but the end.
        None => end.push(char::MAX),
    }
    end
}

#[cfg(test)]
mod tests {
    use super::after_prefix;

    #[test]
    fn the_end_of_a_prefix_range_follows_every_key_under_it_and_nothing_else() {
        let end = after_prefix("dim/app_opened.language/");
        assert_eq!(end, "dim/app_opened.language0");
        for under in ["dim/app_opened.language/", "dim/app_opened.language/zz~"] {
            assert!(under < end.as_str());
        }
        assert!("dim/app_opened.language0" >= end.as_str());
        assert!("dim/app_opened.languages" >= end.as_str());
    }
}
