//! An event product's windows, counted from day sets: per day and key (an event type, or `ANY`
//! for any activity), the set of installations with the key that day, as a roaring bitmap of
//! the installations' numbers. A window of w days ending day D counts the installations of the
//! union of its days' sets, so a day's windows read 30 sets per key, not 30 days of rows, and a
//! run rebuilds only the sets of the days whose rows changed.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use roaring::RoaringBitmap;

use super::windows::{LONGEST_WINDOW, WINDOWS};

/// The sets of some days, built from their rows.
pub struct DaySets {
    /// Per day and key position (0 is `ANY`): the installations with the key.
    sets: BTreeMap<(NaiveDate, usize), RoaringBitmap>,
}

impl DaySets {
    /// Every one of `days` gets its `ANY` set, empty or not: it says the day is built.
    pub fn new(days: &[NaiveDate]) -> Self {
        Self {
            sets: days
                .iter()
                .map(|day| ((*day, 0), RoaringBitmap::new()))
                .collect(),
        }
    }

    /// One row: installation `number` was active on `day` with the keys at `keys` (`ANY`, at
    /// 0, is implied).
    pub fn add(&mut self, number: u32, day: NaiveDate, keys: impl IntoIterator<Item = usize>) {
        self.sets.entry((day, 0)).or_default().insert(number);
        for key in keys.into_iter().filter(|key| *key != 0) {
            self.sets.entry((day, key)).or_default().insert(number);
        }
    }

    /// Adds the sets of other days.
    pub fn append(&mut self, mut other: DaySets) {
        self.sets.append(&mut other.sets);
    }

    /// Each set serialized (the roaring format), by day and key position.
    pub fn serialized(&self) -> impl Iterator<Item = (NaiveDate, usize, Vec<u8>)> + '_ {
        self.sets.iter().map(|((day, key), set)| {
            let mut bytes = Vec::with_capacity(set.serialized_size());
            set.serialize_into(&mut bytes)
                .expect("writing into a Vec cannot fail");
            (*day, *key, bytes)
        })
    }
}

/// The sets of `[from - 29, to]`, read back, from which the windows of `[from, to]` are counted.
pub struct Presence {
    first: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
    /// Per key position, per day from `first`.
    sets: Vec<Vec<RoaringBitmap>>,
}

impl Presence {
    pub fn new(from: NaiveDate, to: NaiveDate, keys: usize) -> Self {
        let first = from - Duration::days(LONGEST_WINDOW - 1);
        let days = usize::try_from((to - first).num_days() + 1).unwrap_or(0);
        Self {
            first,
            from,
            to,
            sets: vec![vec![RoaringBitmap::new(); days]; keys],
        }
    }

    /// The first day whose sets the windows read.
    pub fn first_day(&self) -> NaiveDate {
        self.first
    }

    /// Takes the set of `key` on `day` in the roaring format; a set that does not read is an
    /// error (the table holds nothing else).
    pub fn set(&mut self, day: NaiveDate, key: usize, serialized: &[u8]) -> std::io::Result<()> {
        let index = (day - self.first).num_days();
        if let Some(slot) = usize::try_from(index)
            .ok()
            .and_then(|index| self.sets.get_mut(key)?.get_mut(index))
        {
            *slot = RoaringBitmap::deserialize_from(serialized)?;
        }
        Ok(())
    }

    /// Hands `each` the installations counted in every window of `[from, to]` whose days begin
    /// on or after `kept_from` (an earlier one has lost rows to retention), by day, window and
    /// key position; none for an empty window.
    pub fn windows(&self, kept_from: NaiveDate, mut each: impl FnMut(NaiveDate, i16, usize, u64)) {
        let mut day = self.from;
        while day <= self.to {
            let end = usize::try_from((day - self.first).num_days()).unwrap_or(0);
            for (key, sets) in self.sets.iter().enumerate() {
                let mut union = RoaringBitmap::new();
                let mut taken = 0;
                for window in WINDOWS {
                    let days = usize::try_from(window).unwrap_or(1);
                    // Each window's union grows the shorter one's by the days it adds.
                    for set in &sets[end + 1 - days..end + 1 - taken] {
                        union |= set;
                    }
                    taken = days;
                    let begins = day - Duration::days(i64::from(window) - 1);
                    if begins >= kept_from && !union.is_empty() {
                        each(day, window, key, union.len());
                    }
                }
            }
            day += Duration::days(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::test_rng::Rng;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)
    }

    /// Installations (numbered from 0) as their rows: day and key positions.
    type Rows = Vec<Vec<(i64, Vec<usize>)>>;
    type Figures = Vec<(NaiveDate, i16, usize, u64)>;

    /// The definition: an installation counts in a window with a key when one of its rows in
    /// the window has it (`ANY`: any row).
    fn reference(
        installations: &Rows,
        keys: usize,
        (from, to): (i64, i64),
        kept_from: i64,
    ) -> Figures {
        let mut figures = Vec::new();
        for d in from..=to {
            for key in 0..keys {
                for window in WINDOWS {
                    let begins = d - i64::from(window) + 1;
                    if begins < kept_from {
                        continue;
                    }
                    let counted = installations
                        .iter()
                        .filter(|rows| {
                            rows.iter().any(|(on, has)| {
                                (begins..=d).contains(on) && (key == 0 || has.contains(&key))
                            })
                        })
                        .count() as u64;
                    if counted > 0 {
                        figures.push((day(d), window, key, counted));
                    }
                }
            }
        }
        figures.sort_unstable();
        figures
    }

    /// Built into day sets, serialized, read back and counted.
    fn counted(
        installations: &Rows,
        keys: usize,
        (from, to): (i64, i64),
        kept_from: i64,
    ) -> Figures {
        let days: Vec<NaiveDate> = (from - 29..=to).map(day).collect();
        let mut built = DaySets::new(&days);
        for (number, rows) in installations.iter().enumerate() {
            for (on, has) in rows {
                if days.contains(&day(*on)) {
                    built.add(number as u32, day(*on), has.iter().copied());
                }
            }
        }
        let mut presence = Presence::new(day(from), day(to), keys);
        for (on, key, bytes) in built.serialized() {
            presence.set(on, key, &bytes).expect("a set reads back");
        }
        let mut figures = Vec::new();
        presence.windows(day(kept_from), |on, window, key, installations| {
            figures.push((on, window, key, installations));
        });
        figures.sort_unstable();
        figures
    }

    #[test]
    fn an_installation_counts_once_in_each_window_that_holds_one_of_its_days_with_the_key() {
        let installations = vec![vec![(10, vec![1]), (12, vec![1, 2])]];

        let figures = counted(&installations, 3, (10, 45), -40);

        let seven_with_key_1: Vec<(NaiveDate, u64)> = figures
            .iter()
            .filter(|f| f.1 == 7 && f.2 == 1)
            .map(|f| (f.0, f.3))
            .collect();
        // The 7 days ending each of days 10 to 18 hold day 10 or day 12: once each.
        assert_eq!(
            seven_with_key_1,
            (10..=18).map(|d| (day(d), 1)).collect::<Vec<_>>()
        );
        let thirty_with_key_2 = figures.iter().filter(|f| f.1 == 30 && f.2 == 2).count();
        assert_eq!(thirty_with_key_2, 30, "days 12 to 41");
    }

    #[test]
    fn windows_agree_with_the_definition_day_by_day_on_generated_histories() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: u64| rng.below(n);
        for round in 0..60 {
            let installations: Rows = (0..1 + next(8))
                .map(|_| {
                    (0..next(15))
                        .map(|_| {
                            let keys = (1..4).filter(|_| next(2) == 0).collect();
                            (next(90) as i64, keys)
                        })
                        .collect()
                })
                .collect();
            let from = 20 + next(40) as i64;
            let range = (from, from + next(40) as i64);
            let kept_from = next(60) as i64;
            assert_eq!(
                counted(&installations, 4, range, kept_from),
                reference(&installations, 4, range, kept_from),
                "round {round}"
            );
        }
    }
}
