//! CPU seconds of watched processes during the measured window, read from /proc (Linux).
//!
//! A watched process counts with all its descendants, live or exited: each live process of the
//! tree adds its own `utime + stime` and the `cutime + cstime` of the children it has reaped.
//! This is what makes PostgreSQL measurable: a backend that exits mid-run is reaped by the
//! postmaster, and its time moves into the postmaster's `cutime` instead of vanishing. The
//! generator's own time is measured the same way, under the label `generator`.
//!
//! The samples are taken when the warm-up ends and when the measured window ends (or when the
//! run ends earlier, a pool having run out), so the warm-up's cost is left out.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

/// `/proc/<pid>/stat` counts in USER_HZ, which is 100 on every Linux port this runs on
/// (`getconf CLK_TCK`); the kernel converts, whatever its internal tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// A process tree to measure, from `--cpu-pid LABEL=PID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    pub label: String,
    pub pid: u32,
}

pub fn parse_watch(s: &str) -> Result<Watch, String> {
    let (label, pid) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not LABEL=PID (e.g. server=1234)"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("{pid:?} in {s:?} is not a process id"))?;
    if label.is_empty() || label == "generator" {
        return Err(format!(
            "{s:?}: the label must be non-empty and not `generator`"
        ));
    }
    Ok(Watch {
        label: label.to_owned(),
        pid,
    })
}

/// One line of `/proc/<pid>/stat`: the parent and the ticks of the process and its reaped
/// children. The command name sits in parentheses and may itself hold spaces or parentheses,
/// so the fields are counted from the last `)`.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    ticks: u64,
}

fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state, ppid, ..., utime (14th field of the line), stime, cutime, cstime.
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(Stat { ppid, ticks })
}

/// Ticks of each watched tree now; a watched process that is gone (or not Linux) is absent.
fn sample(watches: &[Watch]) -> BTreeMap<String, u64> {
    let mut stats: HashMap<u32, Stat> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            // A process may exit between the listing and the read: then it is simply skipped.
            if let Some(stat) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|line| parse_stat(&line))
            {
                stats.insert(pid, stat);
            }
        }
    }
    let mut totals = BTreeMap::new();
    for watch in watches {
        if let Some(ticks) = tree_ticks(&stats, watch.pid) {
            totals.insert(watch.label.clone(), ticks);
        }
    }
    if let Some(ticks) = tree_ticks(&stats, std::process::id()) {
        totals.insert("generator".to_owned(), ticks);
    }
    totals
}

/// The ticks of `root` and every live descendant, or None when `root` is not running.
fn tree_ticks(stats: &HashMap<u32, Stat>, root: u32) -> Option<u64> {
    stats.get(&root)?;
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, stat) in stats {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut total = 0;
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        total += stats[&pid].ticks;
        todo.extend(children.get(&pid).into_iter().flatten().copied());
    }
    Some(total)
}

/// The two samples, taken by a task of their own while the run goes on.
pub struct Window {
    task: JoinHandle<BTreeMap<String, f64>>,
    ended: oneshot::Sender<()>,
}

impl Window {
    /// Starts timing now: the first sample after `warmup`, the second `duration` later or when
    /// [`Window::finish`] is called, whichever comes first.
    pub fn start(watches: Vec<Watch>, warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now();
        let (ended, mut run_ended) = oneshot::channel();
        let task = tokio::spawn(async move {
            tokio::select! {
                () = sleep_until(start + warmup) => {}
                // Every request fell in the warm-up: there is no window to measure.
                _ = &mut run_ended => return BTreeMap::new(),
            }
            let before = sample(&watches);
            tokio::select! {
                () = sleep_until(start + warmup + duration) => {}
                _ = run_ended => {}
            }
            let after = sample(&watches);
            before
                .iter()
                .filter_map(|(label, &was)| {
                    let now = *after.get(label)?;
                    let seconds = now.saturating_sub(was) as f64 / TICKS_PER_SECOND;
                    Some((label.clone(), seconds))
                })
                .collect()
        });
        Window { task, ended }
    }

    /// CPU seconds per label over the window; a process that was not running at both samples
    /// is left out.
    pub async fn finish(self) -> BTreeMap<String, f64> {
        let _ = self.ended.send(());
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_from_after_the_last_parenthesis() {
        let line = "4242 (post gres: a) b) S 17 4242 4242 0 -1 4194560 1 2 3 4 \
                    500 70 9 1 20 0 1 0 123 456 789";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                ticks: 500 + 70 + 9 + 1
            })
        );
        assert_eq!(parse_stat("4242 (cut short) S 1 2"), None);
    }

    #[test]
    fn a_tree_counts_its_live_descendants_and_nothing_else() {
        let stats = HashMap::from([
            (
                10,
                Stat {
                    ppid: 1,
                    ticks: 100,
                },
            ),
            (
                11,
                Stat {
                    ppid: 10,
                    ticks: 20,
                },
            ),
            (12, Stat { ppid: 11, ticks: 3 }),
            (
                20,
                Stat {
                    ppid: 1,
                    ticks: 5_000,
                },
            ),
        ]);
        assert_eq!(tree_ticks(&stats, 10), Some(123));
        assert_eq!(tree_ticks(&stats, 11), Some(23));
        assert_eq!(tree_ticks(&stats, 99), None);
    }

    #[test]
    fn watches_read_as_label_equals_pid() {
        assert_eq!(
            parse_watch("postgres=4242"),
            Ok(Watch {
                label: "postgres".into(),
                pid: 4242
            })
        );
        assert!(parse_watch("4242").is_err());
        assert!(parse_watch("server=me").is_err());
        assert!(parse_watch("generator=1").is_err());
    }

    #[test]
    fn a_sample_sees_the_generator_burn_cpu() {
        let before = sample(&[]);
        let Some(&was) = before.get("generator") else {
            return; // not Linux: there is nothing to read
        };
        let began = std::time::Instant::now();
        let mut spin = 0u64;
        while sample(&[])["generator"] == was {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "no CPU time counted"
            );
            for i in 0..1_000_000u64 {
                spin = std::hint::black_box(spin.wrapping_add(i));
            }
        }
    }

    #[tokio::test]
    async fn a_run_that_ends_within_the_warm_up_has_no_window() {
        let window = Window::start(
            Vec::new(),
            Duration::from_secs(3600),
            Duration::from_secs(1),
        );
        assert!(window.finish().await.is_empty());
    }
}
