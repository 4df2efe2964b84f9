//! The numbers of key names (`activity_key_names`, V21), by which appended rows hold their
//! counts. A name is numbered once, for every instance, and never renumbered, so a number read
//! once is kept here: a batch of known names asks the database nothing.

use std::sync::Mutex;

use deadpool_postgres::GenericClient;
use foldhash::{HashMap, HashMapExt};
use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// Names kept at most; past it the cache starts over (each name's number is read again once).
/// A key's name is bounded by the catalog's rules, but not the number of distinct names.
const KEPT: usize = 100_000;

#[derive(Default)]
pub struct KeyNumbers {
    known: Mutex<HashMap<Box<str>, i32>>,
}

impl KeyNumbers {
    /// The number of each of `names`. Names new to the table are numbered first, in statements
    /// of their own (outside any transaction of the caller's), so that a number handed out
    /// stays valid whatever becomes of the batch that asked for it.
    pub async fn of<'a>(
        &self,
        client: &impl GenericClient,
        names: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<&'a str, i32>, StoreError> {
        let mut numbers = HashMap::new();
        let mut unknown = Vec::new();
        {
            let known = self.lock();
            for name in names {
                if numbers.contains_key(name) {
                    continue;
                }
                match known.get(name) {
                    Some(&number) => {
                        numbers.insert(name, number);
                    }
                    None => unknown.push(name),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(numbers);
        }
        unknown.sort_unstable();
        unknown.dedup();
        // Two statements: the insert of a name another instance is numbering waits for it and
        // skips it, and only a statement begun after that sees its number.
        let number = client
            .prepare_cached(
                "INSERT INTO activity_key_names (name) SELECT unnest($1::text[])
                 ON CONFLICT (name) DO NOTHING",
            )
            .await?;
        client.execute(&number, &[&unknown]).await?;
        let read = client
            .prepare_cached("SELECT name, id FROM activity_key_names WHERE name = ANY($1)")
            .await?;
        let rows = client.query(&read, &[&unknown]).await?;
        let numbered_before = numbers.len();
        let mut known = self.lock();
        if known.len() + rows.len() > KEPT {
            known.clear();
        }
        for row in rows {
            let (name, number): (&str, i32) = (row.try_get(0)?, row.try_get(1)?);
            if let Ok(at) = unknown.binary_search(&name) {
                numbers.insert(unknown[at], number);
            }
            known.insert(name.into(), number);
        }
        if numbers.len() - numbered_before < unknown.len() {
            return Err(unnumbered());
        }
        Ok(numbers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, i32>> {
        // A panic while holding the map cannot leave it half-written: every entry is whole.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A name without a number, or a stored number without a name: names are never deleted, so
/// only a table changed by hand gets here.
pub fn unnumbered() -> StoreError {
    StoreError::Refused {
        code: SqlState::NO_DATA_FOUND,
        message: "a key is missing from activity_key_names".into(),
    }
}
