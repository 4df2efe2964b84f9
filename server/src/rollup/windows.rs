//! Installations per window and key, for every product: the span arithmetic that Printernizer's
//! sweep (`engine`) applies to its reports, here over any keys.
//!
//! An installation that has a key on day e, and next has it on day n, is one of the key's
//! installations in the window of w days ending D exactly for D in `[e, min(n - 1, e + w - 1)]`.
//! Those spans of one installation never overlap, so each adds one at its first day and takes
//! it away after its last, and a day's count is a prefix sum: O(rows x keys) for any range,
//! where counting distinct installations per day and window rereads the 30 days before each.

use chrono::{Duration, NaiveDate};
use foldhash::{HashMap, HashMapExt};

use super::engine::{LONGEST_WINDOW, WINDOWS};
use crate::store::WindowRow;

/// The key of any activity: every row has it.
pub const ANY: &str = "";

/// Accumulates the windows of the days `[from, to]`. Feed it every row of `[from - 29, to]`,
/// one installation at a time.
pub struct KeyWindows {
    from: NaiveDate,
    days: usize,
    /// foldhash, as the sweep's: looked up once per key of every row.
    keys: HashMap<String, usize>,
    names: Vec<String>,
    /// Per window: per key, per day, the change of installations (one longer than days).
    changes: [Vec<Vec<i32>>; WINDOWS.len()],
    /// Per key: the index of the installation's next day with it, valid while `seen` is the
    /// current installation's stamp (no clearing between installations).
    next: Vec<i64>,
    seen: Vec<u64>,
    stamp: u64,
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
            next: Vec::new(),
            seen: Vec::new(),
            stamp: 0,
        };
        windows.index_of(ANY);
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
            changes.push(vec![0; self.days + 1]);
        }
        self.next.push(0);
        self.seen.push(0);
        at
    }

    /// Adds one installation's days, in any order of installations but each installation's
    /// days in descending order, each with its keys (`ANY` is implied).
    pub fn add_installation<'a, K>(
        &mut self,
        days_descending: impl IntoIterator<Item = (NaiveDate, K)>,
    ) where
        K: IntoIterator<Item = &'a str>,
    {
        self.stamp += 1;
        for (day, keys) in days_descending {
            let index = (day - self.from).num_days();
            let any = self.index_of(ANY);
            self.span(any, index);
            for key in keys {
                let at = self.index_of(key);
                self.span(at, index);
            }
        }
    }

    /// The spans of `key` from the day `index`, up to the installation's next day with it.
    fn span(&mut self, key: usize, index: i64) {
        let next = (self.seen[key] == self.stamp).then_some(self.next[key]);
        if next == Some(index) {
            // The key twice on one day: the first counted it.
            return;
        }
        self.seen[key] = self.stamp;
        self.next[key] = index;
        for (w, window) in WINDOWS.iter().enumerate() {
            let mut last = index + i64::from(*window) - 1;
            if let Some(next) = next {
                last = last.min(next - 1);
            }
            let first = index.max(0);
            let last = last.min(self.days as i64 - 1);
            if first > last {
                continue;
            }
            let changes = &mut self.changes[w][key];
            changes[first as usize] += 1;
            changes[last as usize + 1] -= 1;
        }
    }

    /// The non-zero counts of every day of the range whose windows begin on or after
    /// `kept_from` (an earlier one has lost rows to retention), by day, window and key.
    pub fn finish(self, kept_from: NaiveDate) -> Vec<WindowRow> {
        let mut rows = Vec::new();
        for (w, window) in WINDOWS.iter().enumerate() {
            let first_whole = kept_from + Duration::days(i64::from(*window) - 1);
            for (key, changes) in self.changes[w].iter().enumerate() {
                let mut running = 0;
                for (i, change) in changes.iter().take(self.days).enumerate() {
                    running += change;
                    let day = self.from + Duration::days(i as i64);
                    if running != 0 && day >= first_whole {
                        rows.push(WindowRow {
                            day,
                            window_days: *window,
                            key: self.names[key].clone(),
                            installations: running,
                        });
                    }
                }
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)
    }

    /// The definition, day by day: installations with the key on a day of the window.
    fn reference(
        installations: &[Vec<(i64, Vec<&str>)>],
        from: i64,
        to: i64,
        kept_from: i64,
    ) -> Vec<WindowRow> {
        let mut rows = Vec::new();
        for window in WINDOWS {
            let mut keys: Vec<&str> = installations
                .iter()
                .flatten()
                .flat_map(|(_, keys)| keys.iter().copied())
                .chain([ANY])
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                for d in from..=to {
                    if d - i64::from(window) + 1 < kept_from {
                        continue;
                    }
                    let active = (d - i64::from(window) + 1)..=d;
                    let count = installations
                        .iter()
                        .filter(|days| {
                            days.iter().any(|(on, keys)| {
                                active.contains(on) && (key == ANY || keys.contains(&key))
                            })
                        })
                        .count();
                    if count > 0 {
                        rows.push(WindowRow {
                            day: day(d),
                            window_days: window,
                            key: key.to_owned(),
                            installations: count as i32,
                        });
                    }
                }
            }
        }
        rows.sort_by(|a, b| (a.window_days, &a.key, a.day).cmp(&(b.window_days, &b.key, b.day)));
        rows
    }

    fn rolled(
        installations: &[Vec<(i64, Vec<&str>)>],
        from: i64,
        to: i64,
        kept_from: i64,
    ) -> Vec<WindowRow> {
        let mut windows = KeyWindows::new(day(from), day(to));
        let first = (windows.first_row_day() - day(0)).num_days();
        for days in installations {
            let mut fed: Vec<&(i64, Vec<&str>)> = days
                .iter()
                .filter(|(d, _)| (first..=to).contains(d))
                .collect();
            fed.sort_by_key(|(d, _)| std::cmp::Reverse(*d));
            windows.add_installation(
                fed.into_iter()
                    .map(|(d, keys)| (day(*d), keys.iter().copied())),
            );
        }
        let mut rows = windows.finish(day(kept_from));
        rows.sort_by(|a, b| (a.window_days, &a.key, a.day).cmp(&(b.window_days, &b.key, b.day)));
        rows
    }

    #[test]
    fn an_installation_counts_once_in_each_window_that_holds_one_of_its_days() {
        let installations = vec![vec![(10, vec!["event/a"]), (12, vec!["event/a"])]];

        let rows = rolled(&installations, 10, 45, 0);

        let seven: Vec<(NaiveDate, i32)> = rows
            .iter()
            .filter(|row| row.window_days == 7 && row.key == "event/a")
            .map(|row| (row.day, row.installations))
            .collect();
        // Days 10 to 18: the 7 days ending each hold day 10 or day 12, and it counts once.
        assert_eq!(seven, (10..=18).map(|d| (day(d), 1)).collect::<Vec<_>>());
        assert_eq!(rows, reference(&installations, 10, 45, 0));
    }

    #[test]
    fn windows_agree_with_the_definition_day_by_day_on_generated_histories() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        };
        let keys = ["event/open", "event/crash", "event/sync"];
        for round in 0..40 {
            let installations: Vec<Vec<(i64, Vec<&str>)>> = (0..1 + next(6))
                .map(|_| {
                    let mut days: Vec<i64> = (0..next(12)).map(|_| next(90) as i64).collect();
                    days.sort_unstable();
                    days.dedup();
                    days.into_iter()
                        .map(|d| (d, keys.iter().copied().filter(|_| next(2) == 0).collect()))
                        .collect()
                })
                .collect();
            let from = 20 + next(40) as i64;
            let to = from + next(40) as i64;
            let kept_from = next(60) as i64;
            assert_eq!(
                rolled(&installations, from, to, kept_from),
                reference(&installations, from, to, kept_from),
                "round {round}"
            );
        }
    }
}
