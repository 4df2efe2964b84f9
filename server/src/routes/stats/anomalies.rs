//! The anomaly checks of `/stats/anomalies`, with the thresholds of CONTRACT.md. Errors count
//! only when non-zero (`total_errors: 0` is not an error).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::snapshot::Snapshot;
use super::views::{change_percent, percent};

pub const CHECKS: [&str; 4] = [
    "active_users_week_over_week",
    "daily_submission_volume",
    "error_spike_detection",
    "installation_error_rate",
];

pub fn anomalies(snapshot: &Snapshot, now: DateTime<Utc>) -> Value {
    let mut found = Vec::new();
    active_installations(snapshot, &mut found);
    submission_volume(snapshot, &mut found);
    error_totals(snapshot, &mut found);
    error_rate(snapshot, &mut found);
    json!({
        "anomalies": found,
        "checked_at": super::rfc3339(now),
        "checks_performed": CHECKS,
    })
}

fn active_installations(snapshot: &Snapshot, found: &mut Vec<Value>) {
    let (current, previous) = (
        snapshot.active.installations,
        snapshot.active_week_before.installations,
    );
    if previous == 0 {
        return;
    }
    let change = change_percent(current, previous);
    let (kind, severity, verb) = if change < -50.0 {
        ("active_users_drop", "high", "dropped")
    } else if change < -20.0 {
        ("active_users_drop", "medium", "dropped")
    } else if change > 50.0 {
        ("active_users_spike", "info", "increased")
    } else {
        return;
    };
    found.push(json!({
        "type": kind,
        "severity": severity,
        "message": format!("Active installations {verb} {:.1}% compared to last week", change.abs()),
        "current": current,
        "previous": previous,
        "change_percent": change,
    }));
}

fn submission_volume(snapshot: &Snapshot, found: &mut Vec<Value>) {
    let Some(today) = snapshot.as_of else {
        return;
    };
    let current = snapshot.reports_on(today);
    let month: i64 = (1..=30)
        .map(|back| snapshot.reports_on(today - Duration::days(back)))
        .sum();
    let mean = month as f64 / 30.0;
    let average = (mean * 10.0).round() / 10.0;
    if mean > 0.0 && current as f64 > 3.0 * mean {
        found.push(json!({
            "type": "submission_spike",
            "severity": "info",
            "message": format!("Unusually many reports today ({current} vs a daily mean of {mean:.1})"),
            "current": current,
            "average": average,
        }));
    } else if mean > 5.0 && (current as f64) < 0.2 * mean {
        found.push(json!({
            "type": "submission_drop",
            "severity": "medium",
            "message": format!("Very few reports today ({current} vs a daily mean of {mean:.1})"),
            "current": current,
            "average": average,
        }));
    }
}

fn error_totals(snapshot: &Snapshot, found: &mut Vec<Value>) {
    let (this_week, last_week) = (snapshot.active.errors, snapshot.active_week_before.errors);
    let change = change_percent(this_week, last_week);
    if change <= 50.0 {
        return;
    }
    found.push(json!({
        "type": "error_spike",
        "severity": if change > 100.0 { "high" } else { "medium" },
        "message": format!("Errors increased {change:.1}% compared to last week"),
        "this_week": this_week,
        "last_week": last_week,
        "change_percent": change,
    }));
}

fn error_rate(snapshot: &Snapshot, found: &mut Vec<Value>) {
    let totals = &snapshot.distribution;
    let rate = percent(totals.installations_with_errors, totals.installations);
    if rate <= 30.0 {
        return;
    }
    found.push(json!({
        "type": "high_error_rate",
        "severity": if rate > 50.0 { "high" } else { "medium" },
        "message": format!("{rate:.1}% of installations reported errors"),
        "installations_with_errors": totals.installations_with_errors,
        "total_installations": totals.installations,
        "error_rate": rate,
    }));
}
