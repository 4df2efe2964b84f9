//! The anomaly checks of `/stats/anomalies` and the digests, with the thresholds of
//! CONTRACT.md. Errors count only when non-zero (`total_errors: 0` is not an error).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::figures::{change_percent, percent};
use super::snapshot::Snapshot;
use super::timestamp;

pub const CHECKS: [&str; 4] = [
    "active_users_week_over_week",
    "daily_submission_volume",
    "error_spike_detection",
    "installation_error_rate",
];

/// The anomaly checks and what they found.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsAnomalies)]
pub struct Anomalies {
    pub anomalies: Vec<Anomaly>,
    #[serde(serialize_with = "timestamp")]
    pub checked_at: DateTime<Utc>,
    #[schema(example = json!([
        "active_users_week_over_week",
        "daily_submission_volume",
        "error_spike_detection",
        "installation_error_rate"
    ]), value_type = Vec<String>)]
    pub checks_performed: [&'static str; 4],
}

/// One finding. Besides `type`, `severity` and `message`, each type carries its own numbers:
/// `active_users_*` current, previous, change_percent; `submission_*` current, average;
/// `error_spike` this_week, last_week, change_percent; `high_error_rate`
/// installations_with_errors, total_installations, error_rate.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Anomaly {
    #[serde(rename = "type")]
    pub kind: AnomalyType,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_week: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_week: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installations_with_errors: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_installations: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyType {
    #[default]
    ActiveUsersDrop,
    ActiveUsersSpike,
    SubmissionSpike,
    SubmissionDrop,
    ErrorSpike,
    HighErrorRate,
}

impl AnomalyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActiveUsersDrop => "active_users_drop",
            Self::ActiveUsersSpike => "active_users_spike",
            Self::SubmissionSpike => "submission_spike",
            Self::SubmissionDrop => "submission_drop",
            Self::ErrorSpike => "error_spike",
            Self::HighErrorRate => "high_error_rate",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    #[default]
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Info => "info",
        }
    }
}

pub fn anomalies(snapshot: &Snapshot, now: DateTime<Utc>) -> Anomalies {
    let found = [
        active_installations(snapshot),
        submission_volume(snapshot),
        error_totals(snapshot),
        error_rate(snapshot),
    ];
    Anomalies {
        anomalies: found.into_iter().flatten().collect(),
        checked_at: now,
        checks_performed: CHECKS,
    }
}

fn active_installations(snapshot: &Snapshot) -> Option<Anomaly> {
    let (current, previous) = (
        snapshot.active.installations,
        snapshot.active_week_before.installations,
    );
    if previous == 0 {
        return None;
    }
    let change = change_percent(current, previous);
    let (kind, severity, verb) = if change < -50.0 {
        (AnomalyType::ActiveUsersDrop, Severity::High, "dropped")
    } else if change < -20.0 {
        (AnomalyType::ActiveUsersDrop, Severity::Medium, "dropped")
    } else if change > 50.0 {
        (AnomalyType::ActiveUsersSpike, Severity::Info, "increased")
    } else {
        return None;
    };
    Some(Anomaly {
        kind,
        severity,
        message: format!(
            "Active installations {verb} {:.1}% compared to last week",
            change.abs()
        ),
        current: Some(current),
        previous: Some(previous),
        change_percent: Some(change),
        ..Anomaly::default()
    })
}

fn submission_volume(snapshot: &Snapshot) -> Option<Anomaly> {
    let today = snapshot.as_of?;
    let current = snapshot.reports_on(today);
    let month: i64 = (1..=30)
        .map(|back| snapshot.reports_on(today - Duration::days(back)))
        .sum();
    let mean = month as f64 / 30.0;
    let (kind, severity, message) = if mean > 0.0 && current as f64 > 3.0 * mean {
        (
            AnomalyType::SubmissionSpike,
            Severity::Info,
            format!("Unusually many reports today ({current} vs a daily mean of {mean:.1})"),
        )
    } else if mean > 5.0 && (current as f64) < 0.2 * mean {
        (
            AnomalyType::SubmissionDrop,
            Severity::Medium,
            format!("Very few reports today ({current} vs a daily mean of {mean:.1})"),
        )
    } else {
        return None;
    };
    Some(Anomaly {
        kind,
        severity,
        message,
        current: Some(current),
        average: Some((mean * 10.0).round() / 10.0),
        ..Anomaly::default()
    })
}

fn error_totals(snapshot: &Snapshot) -> Option<Anomaly> {
    let (this_week, last_week) = (snapshot.active.errors, snapshot.active_week_before.errors);
    let change = change_percent(this_week, last_week);
    if change <= 50.0 {
        return None;
    }
    Some(Anomaly {
        kind: AnomalyType::ErrorSpike,
        severity: if change > 100.0 {
            Severity::High
        } else {
            Severity::Medium
        },
        message: format!("Errors increased {change:.1}% compared to last week"),
        this_week: Some(this_week),
        last_week: Some(last_week),
        change_percent: Some(change),
        ..Anomaly::default()
    })
}

fn error_rate(snapshot: &Snapshot) -> Option<Anomaly> {
    let totals = &snapshot.distribution;
    let rate = percent(totals.installations_with_errors, totals.installations);
    if rate <= 30.0 {
        return None;
    }
    Some(Anomaly {
        kind: AnomalyType::HighErrorRate,
        severity: if rate > 50.0 {
            Severity::High
        } else {
            Severity::Medium
        },
        message: format!("{rate:.1}% of installations reported errors"),
        installations_with_errors: Some(totals.installations_with_errors),
        total_installations: Some(totals.installations),
        error_rate: Some(rate),
        ..Anomaly::default()
    })
}
