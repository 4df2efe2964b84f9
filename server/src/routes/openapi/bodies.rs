//! The shapes of the bodies that no read model types, for the document only: the summary, and
//! the overview and export that put the read model's figures together (`read::figures`,
//! `read::series` and `read::overview` describe themselves). The API test
//! `every_documented_body_matches_what_its_route_answers` checks real answers against them.
//!
//! Keys that are always present but may be null are `required` and nullable.

// Described, never built: nothing reads these fields.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use utoipa::ToSchema;

use crate::read::{figures, Anomalies};

/// Live and exact totals over the raw reports.
#[derive(ToSchema)]
pub struct StatsSummary {
    total_submissions: i64,
    unique_installations: i64,
    /// When the latest report arrived (an erasure does not lower it); null before the first.
    #[schema(required = true)]
    latest_submission_at: Option<DateTime<Utc>>,
    timestamp: DateTime<Utc>,
}

/// Everything the dashboard shows (versions up to 10, countries up to 20).
#[derive(ToSchema)]
pub struct StatsOverview {
    installations: figures::Installations,
    deployment_modes: figures::DeploymentModes,
    versions: figures::Versions,
    geography: figures::Geography,
    printers: figures::Printers,
    features: figures::Features,
    anomalies: Anomalies,
    /// When the daily tables were last rolled; null before the first rollup.
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}

/// As the overview, with versions up to 20 and countries up to 50.
#[derive(ToSchema)]
pub struct StatsExport {
    installations: figures::Installations,
    deployment_modes: figures::DeploymentModes,
    versions: figures::Versions,
    geography: figures::Geography,
    printers: figures::Printers,
    features: figures::Features,
    anomalies: Anomalies,
    exported_at: DateTime<Utc>,
}
