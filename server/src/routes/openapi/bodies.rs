//! The shapes of the `/stats/*` and `/api/v1/*` bodies, for the document only: the handlers
//! build these bodies with `json!` (stats/views.rs, api.rs, public.rs). The API test
//! `every_documented_body_matches_what_its_route_answers` checks real answers against them.
//!
//! Keys that are always present but may be null are `required` and nullable.

// Described, never built: nothing reads these fields.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use utoipa::ToSchema;

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

/// Installations known and active (7-day window), with a trend per day.
#[derive(ToSchema)]
pub struct StatsInstallations {
    /// Installations known by the latest rolled day.
    total: i64,
    active_7d: i64,
    active_30d: i64,
    /// Active (7 days) against the 7 days before, one decimal.
    growth_7d_percent: f64,
    trend: Vec<TrendDay>,
}

#[derive(ToSchema)]
pub struct TrendDay {
    date: NaiveDate,
    /// Installations known by that date.
    total: i64,
    /// Installations active in the 7 days ending that date.
    active: i64,
}

/// Active installations (30 days) by deployment mode.
#[derive(ToSchema)]
pub struct StatsDeploymentModes {
    total: i64,
    #[schema(example = json!({"homeassistant": 12, "docker": 5}))]
    breakdown: BTreeMap<String, i64>,
    #[schema(example = json!({"homeassistant": 70.6, "docker": 29.4}))]
    percentages: BTreeMap<String, f64>,
    #[schema(example = json!({"homeassistant": "Home Assistant", "docker": "Docker"}))]
    display_names: BTreeMap<String, String>,
}

/// Active installations (30 days) by version, most first.
#[derive(ToSchema)]
pub struct StatsVersions {
    versions: Vec<VersionCount>,
    /// The highest version by semantic order, not the most common; null without reports.
    #[schema(required = true, example = "2.41.2-3-gabc1234")]
    latest_version: Option<String>,
    adoption_rate_latest: f64,
    total_versions: i64,
}

#[derive(ToSchema)]
pub struct VersionCount {
    version: String,
    count: i64,
    percentage: f64,
}

/// Active installations (30 days) by country, most first.
#[derive(ToSchema)]
pub struct StatsGeography {
    countries: Vec<CountryCount>,
    /// Known countries only (`XX` is not one).
    total_countries: i64,
}

#[derive(ToSchema)]
pub struct CountryCount {
    #[schema(example = "DE")]
    code: String,
    #[schema(example = "Germany")]
    name: String,
    count: i64,
    percentage: f64,
}

/// Printers of the active installations (30 days).
#[derive(ToSchema)]
pub struct StatsPrinters {
    total_printers: i64,
    total_installations: i64,
    average_per_installation: f64,
    /// Printers by type.
    #[schema(example = json!({"bambu_lab": 20, "prusa_core": 7}))]
    types: BTreeMap<String, i64>,
}

/// Feature flags of the active installations (30 days).
#[derive(ToSchema)]
pub struct StatsFeatures {
    features: Vec<FeatureCount>,
    total_installations: i64,
}

#[derive(ToSchema)]
pub struct FeatureCount {
    feature: String,
    enabled: i64,
    disabled: i64,
    enabled_percent: f64,
    /// Installations that report the flag at all.
    total_reporting: i64,
}

/// Errors of the active installations; week over week on the 7-day window.
#[derive(ToSchema)]
pub struct StatsErrors {
    total_errors: i64,
    /// Installations with non-zero `total_errors`.
    installations_with_errors: i64,
    error_types: BTreeMap<String, i64>,
    this_week_errors: i64,
    last_week_errors: i64,
    error_change_percent: f64,
    /// `error_change_percent` above 50.
    has_spike: bool,
}

/// Active installations (7-day window) per version, per day.
#[derive(ToSchema)]
pub struct StatsVersionMigration {
    migration: Vec<VersionsOnDay>,
    /// Highest first, by semantic order.
    all_versions: Vec<String>,
}

#[derive(ToSchema)]
pub struct VersionsOnDay {
    date: NaiveDate,
    versions: BTreeMap<String, i64>,
}

/// Installations with each feature enabled (7-day window), per day.
#[derive(ToSchema)]
pub struct StatsFeatureTrends {
    trends: Vec<FeaturesOnDay>,
    all_features: Vec<String>,
}

#[derive(ToSchema)]
pub struct FeaturesOnDay {
    date: NaiveDate,
    total_installations: i64,
    features: BTreeMap<String, FeatureOnDay>,
}

#[derive(ToSchema)]
pub struct FeatureOnDay {
    enabled: i64,
    percent: f64,
}

/// The anomaly checks and what they found.
#[derive(ToSchema)]
pub struct StatsAnomalies {
    anomalies: Vec<Anomaly>,
    checked_at: DateTime<Utc>,
    #[schema(example = json!([
        "active_users_week_over_week",
        "daily_submission_volume",
        "error_spike_detection",
        "installation_error_rate"
    ]))]
    checks_performed: Vec<String>,
}

/// One finding. Besides `type`, `severity` and `message`, each type carries its own numbers:
/// `active_users_*` current, previous, change_percent; `submission_*` current, average;
/// `error_spike` this_week, last_week, change_percent; `high_error_rate`
/// installations_with_errors, total_installations, error_rate.
#[derive(ToSchema)]
pub struct Anomaly {
    #[schema(rename = "type")]
    kind: AnomalyType,
    severity: Severity,
    message: String,
    current: Option<i64>,
    previous: Option<i64>,
    change_percent: Option<f64>,
    average: Option<f64>,
    this_week: Option<i64>,
    last_week: Option<i64>,
    installations_with_errors: Option<i64>,
    total_installations: Option<i64>,
    error_rate: Option<f64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AnomalyType {
    ActiveUsersDrop,
    ActiveUsersSpike,
    SubmissionSpike,
    SubmissionDrop,
    ErrorSpike,
    HighErrorRate,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Info,
}

/// Everything the dashboard shows (versions up to 10, countries up to 20).
#[derive(ToSchema)]
pub struct StatsOverview {
    installations: StatsInstallations,
    deployment_modes: StatsDeploymentModes,
    versions: StatsVersions,
    geography: StatsGeography,
    printers: StatsPrinters,
    features: StatsFeatures,
    anomalies: StatsAnomalies,
    /// When the daily tables were last rolled; null before the first rollup.
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}

/// As the overview, with versions up to 20 and countries up to 50.
#[derive(ToSchema)]
pub struct StatsExport {
    installations: StatsInstallations,
    deployment_modes: StatsDeploymentModes,
    versions: StatsVersions,
    geography: StatsGeography,
    printers: StatsPrinters,
    features: StatsFeatures,
    anomalies: StatsAnomalies,
    exported_at: DateTime<Utc>,
}

/// One number per day.
#[derive(ToSchema)]
pub struct MetricSeries {
    metric: String,
    /// 7 or 30 for the metrics of a window; null for the per-day metrics.
    #[schema(required = true)]
    window_days: Option<i16>,
    from: NaiveDate,
    to: NaiveDate,
    /// Every day of the range, 0 where nothing was rolled.
    points: Vec<MetricPoint>,
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}

/// `value`: an integer for counts; for a product's rate, a number from 0 to 1, null where its
/// denominator is 0.
#[derive(ToSchema)]
pub struct MetricPoint {
    date: NaiveDate,
    #[schema(required = true)]
    value: Option<f64>,
}

/// A measure per day (products other than Printernizer).
#[derive(ToSchema)]
pub struct MeasureSeries {
    measure: String,
    from: NaiveDate,
    to: NaiveDate,
    /// Every day of the range.
    points: Vec<MeasurePoint>,
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}

/// `mean`, `p50`, `p90`: null on a day without values. Quantiles are bucket upper bounds (the
/// open top bucket reports the last bound).
#[derive(ToSchema)]
pub struct MeasurePoint {
    date: NaiveDate,
    count: i64,
    sum: f64,
    #[schema(required = true)]
    mean: Option<f64>,
    #[schema(required = true)]
    p50: Option<f64>,
    #[schema(required = true)]
    p90: Option<f64>,
}

/// Events per day and type.
#[derive(ToSchema)]
pub struct EventCounts {
    #[schema(example = "stories")]
    product: String,
    /// Every day of the range.
    days: Vec<EventsOnDay>,
}

#[derive(ToSchema)]
pub struct EventsOnDay {
    date: NaiveDate,
    #[schema(example = json!({"app_opened": {"count": 31, "installations": 12}}))]
    events: BTreeMap<String, EventCount>,
}

/// Events of one type on one day, and the installations that sent them.
#[derive(ToSchema)]
pub struct EventCount {
    count: i64,
    installations: i64,
}

/// Per day, each value's installations and amount.
#[derive(ToSchema)]
pub struct DimensionSeries {
    dimension: String,
    /// Printernizer: 7 or 30; other products: 1 (per day).
    window_days: i16,
    from: NaiveDate,
    to: NaiveDate,
    points: Vec<DimensionPoint>,
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}

#[derive(ToSchema)]
pub struct DimensionPoint {
    date: NaiveDate,
    values: BTreeMap<String, DimensionCell>,
}

/// `amount` is the dimension's own measure (README, "The daily tables").
#[derive(ToSchema)]
pub struct DimensionCell {
    installations: i64,
    amount: i64,
}

/// What became of the requests to `/submit`, per day received.
#[derive(ToSchema)]
pub struct OutcomeCounts {
    from: NaiveDate,
    to: NaiveDate,
    /// Only the days with counts.
    days: Vec<OutcomesOnDay>,
    #[schema(example = json!({"accepted": 120, "duplicate": 3, "rate_limited": 1}))]
    totals: BTreeMap<String, i64>,
}

#[derive(ToSchema)]
pub struct OutcomesOnDay {
    date: NaiveDate,
    outcomes: BTreeMap<String, i64>,
}

/// The 30-day distributions, every cell under `min_cohort` installations merged into `other`.
#[derive(ToSchema)]
pub struct PublicOverview {
    /// The latest rolled day; null before the first rollup.
    #[schema(required = true)]
    as_of: Option<NaiveDate>,
    /// Null when under `min_cohort`.
    #[schema(required = true)]
    active_installations_30d: Option<i64>,
    /// Null when under `min_cohort`.
    #[schema(required = true)]
    active_installations_7d: Option<i64>,
    /// Installations by value, per dimension (`version`, `platform`, `deployment_mode`,
    /// `country`, `printer_type`); empty when the active installations are under `min_cohort`.
    #[schema(example = json!({"platform": {"linux": 40, "other": 6}}))]
    distributions: BTreeMap<String, BTreeMap<String, i64>>,
    min_cohort: i64,
    #[schema(required = true)]
    last_updated: Option<DateTime<Utc>>,
}
