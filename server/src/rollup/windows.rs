//! Installations and amounts per window and key of a report product (weekly, daily: `engine`);
//! the windows and their keys are every product's (an event product's are counted from day
//! sets, `presence`).
//!
//! Each window of w days ending day D counts an installation by its latest row in the window:
//! a report replaces the one before. A row on day e whose installation's next row is on day n
//! is the counted one exactly for D in `[e, min(n - 1, e + w - 1)]`. Those spans of one
//! installation never overlap, so each adds its row's numbers at its first day and takes them
//! away after its last, and a day's figures are prefix sums: O(rows x keys) for any range,
//! where counting distinct installations per day and window rereads the 30 days before each.

use chrono::{Duration, NaiveDate};
use foldhash::{HashMap, HashMapExt};

/// The windows counted: 1 day (daily actives), 7 days (activity, trends) and 30 days
/// (distributions).
pub const WINDOWS: [i16; 3] = [1, 7, 30];
/// The longest window: a row changes its day's windows and the 29 days' after it.
pub const LONGEST_WINDOW: i64 = 30;

/// The key of any activity: every row has it, with the amount 1.
pub const ANY: &str = "";
/// `ANY`'s index: the first key of every `KeyWindows`.
const ANY_INDEX: usize = 0;

/// One key's figures in one window ending one day.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Installations counted with the key.
    pub installations: i64,
    /// Of those, the ones whose counted value is above zero.
    pub positive: i64,
    /// The sum of the counted values.
    pub amount: f64,
}

impl Cell {
    fn add(&mut self, other: Cell) {
        self.installations += other.installations;
        self.positive += other.positive;
        self.amount += other.amount;
    }

    fn subtract(&mut self, other: Cell) {
        self.installations -= other.installations;
        self.positive -= other.positive;
        self.amount -= other.amount;
    }
}

/// Accumulates the windows of the days `[from, to]`. Feed it every row of `[from - 29, to]`,
/// one installation at a time.
pub struct KeyWindows {
    from: NaiveDate,
    days: usize,
    /// foldhash, not SipHash: looked up once per key of every row (SipHash took ~8% of a
    /// backfill's CPU). Seeded per process, so values from clients cannot be chosen to collide.
    keys: HashMap<String, usize>,
    names: Vec<String>,
    /// Per window: per key, per day, the change of its cell (one longer than days).
    changes: [Vec<Vec<Cell>>; WINDOWS.len()],
}

impl KeyWindows {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
        let mut windows = Self {
            from,
            days,
            keys: HashMap::new(),
            names: Vec::new(),
            changes: std::array::from_fn(|_| Vec::new()),
        };
        let any = windows.index_of(ANY);
        debug_assert_eq!(any, ANY_INDEX);
        windows
    }

    /// The first day whose rows `add_installation` must see.
    pub fn first_row_day(&self) -> NaiveDate {
        self.from - Duration::days(LONGEST_WINDOW - 1)
    }

    fn index_of(&mut self, key: &str) -> usize {
        if let Some(&at) = self.keys.get(key) {
            return at;
        }
        let at = self.names.len();
        self.keys.insert(key.to_owned(), at);
        self.names.push(key.to_owned());
        for changes in &mut self.changes {
            changes.push(vec![Cell::default(); self.days + 1]);
        }
        at
    }

    /// Adds one installation's rows, latest first (of two rows on one day, the one that
    /// replaces the other first), each as its day and its keys' values (`ANY` is implied).
    pub fn add_installation<'a, K>(
        &mut self,
        rows_latest_first: impl IntoIterator<Item = (NaiveDate, K)>,
    ) where
        K: IntoIterator<Item = (&'a str, f64)>,
    {
        let mut next_row = None;
        for (day, keys) in rows_latest_first {
            let index = (day - self.from).num_days();
            self.span(ANY_INDEX, index, next_row, 1.0);
            for (key, value) in keys {
                let at = self.index_of(key);
                self.span(at, index, next_row, value);
            }
            next_row = Some(index);
        }
    }

    /// Counts `key`'s row on day `index` in the windows it is the installation's latest row
    /// of: until the installation's `next` row, or the window's end.
    fn span(&mut self, key: usize, index: i64, next: Option<i64>, value: f64) {
        let counted = Cell {
            installations: 1,
            positive: i64::from(value > 0.0),
            amount: value,
        };
        let last_day = self.days as i64 - 1;
        for (w, window) in WINDOWS.iter().enumerate() {
            let end = index + i64::from(*window) - 1;
            let (first, last) = (
                index.max(0),
                next.map_or(end, |next| end.min(next - 1)).min(last_day),
            );
            if first <= last {
                let changes = &mut self.changes[w][key];
                changes[first as usize].add(counted);
                changes[last as usize + 1].subtract(counted);
            }
        }
    }

    /// Hands `each` the non-zero cells of every day of the range whose window begins on or
    /// after `kept_from` (an earlier one has lost rows to retention), by window, key and day.
    pub fn finish(self, kept_from: NaiveDate, mut each: impl FnMut(NaiveDate, i16, &str, Cell)) {
        for (w, window) in WINDOWS.iter().enumerate() {
            let first_whole = kept_from + Duration::days(i64::from(*window) - 1);
            for (key, changes) in self.changes[w].iter().enumerate() {
                let mut running = Cell::default();
                for (i, change) in changes.iter().take(self.days).enumerate() {
                    running.add(*change);
                    let day = self.from + Duration::days(i as i64);
                    if running.installations != 0 && day >= first_whole {
                        each(day, *window, &self.names[key], running);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::test_rng::Rng;

    type Rows<'a> = Vec<(i64, Vec<(&'a str, f64)>)>;
    type Figures = Vec<(i16, String, NaiveDate, i64, i64, i64)>;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)
    }

    /// The definition, day by day: per window ending each day, each installation counted by its
    /// latest row, if that row has the key, and the counted values summed.
    fn reference(installations: &[Rows], (from, to): (i64, i64), kept_from: i64) -> Figures {
        let mut keys: Vec<&str> = installations
            .iter()
            .flatten()
            .flat_map(|(_, keys)| keys.iter().map(|(key, _)| *key))
            .chain([ANY])
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let value = |row: &(i64, Vec<(&str, f64)>), key: &str| {
            if key == ANY {
                Some(1.0)
            } else {
                row.1.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
            }
        };
        let mut figures = Vec::new();
        for window in WINDOWS {
            for key in &keys {
                for d in from..=to {
                    if d - i64::from(window) + 1 < kept_from {
                        continue;
                    }
                    let active = (d - i64::from(window) + 1)..=d;
                    let mut cell = (0, 0, 0.0);
                    for rows in installations {
                        let in_window: Vec<_> =
                            rows.iter().filter(|(on, _)| active.contains(on)).collect();
                        let Some(counted) = in_window.last().and_then(|r| value(r, key)) else {
                            continue;
                        };
                        cell.0 += 1;
                        cell.1 += i64::from(counted > 0.0);
                        cell.2 += counted;
                    }
                    if cell.0 > 0 {
                        figures.push((
                            window,
                            key.to_string(),
                            day(d),
                            cell.0,
                            cell.1,
                            cell.2 as i64,
                        ));
                    }
                }
            }
        }
        figures.sort();
        figures
    }

    fn rolled(installations: &[Rows], (from, to): (i64, i64), kept_from: i64) -> Figures {
        let mut windows = KeyWindows::new(day(from), day(to));
        let first = (windows.first_row_day() - day(0)).num_days();
        for rows in installations {
            windows.add_installation(
                rows.iter()
                    .rev()
                    .filter(|(d, _)| (first..=to).contains(d))
                    .map(|(d, keys)| (day(*d), keys.iter().copied())),
            );
        }
        let mut figures = Vec::new();
        windows.finish(day(kept_from), |d, window, key, cell| {
            figures.push((
                window,
                key.to_owned(),
                d,
                cell.installations,
                cell.positive,
                cell.amount as i64,
            ));
        });
        figures.sort();
        figures
    }

    /// Installations with a row on some of 90 days (ascending), each row with some keys.
    fn generated(next: &mut impl FnMut(u64) -> u64) -> Vec<Rows<'static>> {
        let keys = ["event/open", "event/crash", "counter/jobs"];
        (0..1 + next(6))
            .map(|_| {
                let mut days: Vec<i64> = (0..next(12)).map(|_| next(90) as i64).collect();
                days.sort_unstable();
                days.dedup();
                days.into_iter()
                    .map(|d| {
                        let mut row = Vec::new();
                        for key in keys {
                            if next(2) == 0 {
                                row.push((key, next(4) as f64));
                            }
                        }
                        (d, row)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_report_product_counts_each_installation_by_its_latest_row_in_the_window() {
        // A later row without the key takes the installation out of the key's count.
        let installations = vec![vec![
            (10, vec![("dim/v/1", 1.0)]),
            (12, vec![("dim/v/2", 1.0)]),
        ]];

        let figures = rolled(&installations, (12, 12), -40);

        let thirty: Vec<(&str, i64)> = figures
            .iter()
            .filter(|f| f.0 == 30)
            .map(|f| (f.1.as_str(), f.3))
            .collect();
        assert_eq!(thirty, [("", 1), ("dim/v/2", 1)]);
    }

    #[test]
    fn windows_agree_with_the_definition_day_by_day_on_generated_histories() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: u64| rng.below(n);
        for round in 0..60 {
            let installations = generated(&mut next);
            let from = 20 + next(40) as i64;
            let range = (from, from + next(40) as i64);
            let kept_from = next(60) as i64;
            assert_eq!(
                rolled(&installations, range, kept_from),
                reference(&installations, range, kept_from),
                "round {round}"
            );
        }
    }
}
