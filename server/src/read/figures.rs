//! The dashboard's figures, built from a `Snapshot` (and the installations' trend `Series`):
//! what `/stats/*` serialises (its keys are Printernizer's dashboard's, CONTRACT.md) and what
//! the e-mailed digests render. The numbers are exact over the daily tables.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::snapshot::{
    Series, Snapshot, COUNTRY, DEPLOYMENT_MODE, ERROR_TYPE, FEATURE, PRINTER_TYPE, VERSION,
};
use super::versions::highest;
use crate::domain::country_name;
use crate::store::DimensionRow;

/// A percentage with one decimal; 0 when there is nothing to divide by.
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// Change from `previous` to `current` in percent, one decimal; 0 without a previous value.
pub fn change_percent(current: i64, previous: i64) -> f64 {
    if previous == 0 {
        return 0.0;
    }
    ((current - previous) as f64 * 1000.0 / previous as f64).round() / 10.0
}

/// Cells by installations, most first, then by value.
fn ranked<'a>(cells: impl Iterator<Item = &'a DimensionRow>) -> Vec<&'a DimensionRow> {
    let mut cells: Vec<_> = cells.collect();
    cells.sort_by(|a, b| {
        b.installations
            .cmp(&a.installations)
            .then_with(|| a.value.cmp(&b.value))
    });
    cells
}

pub fn display_name(mode: &str) -> &'static str {
    match mode {
        "homeassistant" => "Home Assistant",
        "docker" => "Docker",
        "standalone" => "Standalone",
        "pi" => "Raspberry Pi",
        _ => "Other",
    }
}

/// Installations known and active (7-day window), with a trend per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsInstallations)]
pub struct Installations {
    /// Installations known by the latest rolled day.
    pub total: i64,
    pub active_7d: i64,
    pub active_30d: i64,
    /// Active (7 days) against the 7 days before, one decimal.
    pub growth_7d_percent: f64,
    pub trend: Vec<TrendDay>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendDay {
    pub date: NaiveDate,
    /// Installations known by that date.
    pub total: i64,
    /// Installations active in the 7 days ending that date.
    pub active: i64,
}

pub fn installations(snapshot: &Snapshot, trend: &Series) -> Installations {
    Installations {
        total: snapshot.known_installations(),
        active_7d: snapshot.active.installations,
        active_30d: snapshot.distribution.installations,
        growth_7d_percent: change_percent(
            snapshot.active.installations,
            snapshot.active_week_before.installations,
        ),
        trend: trend
            .dates
            .iter()
            .map(|&day| TrendDay {
                date: day,
                total: trend.known_by(day),
                active: trend.active_on(day),
            })
            .collect(),
    }
}

/// Active installations (30 days) by deployment mode.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsDeploymentModes)]
pub struct DeploymentModes {
    pub total: i64,
    #[schema(example = json!({"homeassistant": 12, "docker": 5}))]
    pub breakdown: BTreeMap<String, i64>,
    #[schema(example = json!({"homeassistant": 70.6, "docker": 29.4}))]
    pub percentages: BTreeMap<String, f64>,
    #[schema(example = json!({"homeassistant": "Home Assistant", "docker": "Docker"}))]
    pub display_names: BTreeMap<String, &'static str>,
}

pub fn deployment_modes(snapshot: &Snapshot) -> DeploymentModes {
    let total = snapshot.distribution.installations;
    let mut modes = DeploymentModes {
        total,
        breakdown: BTreeMap::new(),
        percentages: BTreeMap::new(),
        display_names: ["homeassistant", "docker", "standalone", "pi"]
            .into_iter()
            .map(|mode| (mode.to_owned(), display_name(mode)))
            .collect(),
    };
    for cell in ranked(snapshot.cells_of(DEPLOYMENT_MODE)) {
        let mode = &cell.value;
        modes.breakdown.insert(mode.clone(), cell.installations);
        (modes.percentages).insert(mode.clone(), percent(cell.installations, total));
        (modes.display_names).insert(mode.clone(), display_name(mode));
    }
    modes
}

/// Active installations (30 days) by version, most first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsVersions)]
pub struct Versions {
    pub versions: Vec<VersionCount>,
    /// The highest version by semantic order, not the most common; null without reports.
    #[schema(required = true, example = "2.41.2-3-gabc1234")]
    pub latest_version: Option<String>,
    pub adoption_rate_latest: f64,
    pub total_versions: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionCount {
    pub version: String,
    pub count: i64,
    pub percentage: f64,
}

pub fn versions(snapshot: &Snapshot, limit: u32) -> Versions {
    let total = snapshot.distribution.installations;
    let cells = ranked(snapshot.cells_of(VERSION));
    let latest = highest(cells.iter().map(|c| c.value.as_str()));
    let on_latest = cells
        .iter()
        .find(|c| Some(c.value.as_str()) == latest)
        .map_or(0, |c| c.installations);
    Versions {
        versions: cells
            .iter()
            .take(limit as usize)
            .map(|c| VersionCount {
                version: c.value.clone(),
                count: c.installations,
                percentage: percent(c.installations, total),
            })
            .collect(),
        latest_version: latest.map(str::to_owned),
        adoption_rate_latest: percent(on_latest, total),
        total_versions: cells.len() as i64,
    }
}

/// Active installations (30 days) by country, most first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsGeography)]
pub struct Geography {
    pub countries: Vec<CountryCount>,
    /// Known countries only (`XX` is not one).
    pub total_countries: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountryCount {
    #[schema(example = "DE")]
    pub code: String,
    #[schema(example = "Germany")]
    pub name: &'static str,
    pub count: i64,
    pub percentage: f64,
}

pub fn geography(snapshot: &Snapshot, limit: u32) -> Geography {
    let total = snapshot.distribution.installations;
    let cells = ranked(snapshot.cells_of(COUNTRY));
    Geography {
        countries: cells
            .iter()
            .take(limit as usize)
            .map(|c| CountryCount {
                code: c.value.clone(),
                name: country_name(&c.value),
                count: c.installations,
                percentage: percent(c.installations, total),
            })
            .collect(),
        total_countries: cells.iter().filter(|c| c.value != "XX").count() as i64,
    }
}

/// Printers of the active installations (30 days).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsPrinters)]
pub struct Printers {
    pub total_printers: i64,
    pub total_installations: i64,
    pub average_per_installation: f64,
    /// Printers by type.
    #[schema(example = json!({"bambu_lab": 20, "prusa_core": 7}))]
    pub types: BTreeMap<String, i64>,
}

pub fn printers(snapshot: &Snapshot) -> Printers {
    let totals = &snapshot.distribution;
    let average = if totals.installations == 0 {
        0.0
    } else {
        (totals.printers as f64 * 10.0 / totals.installations as f64).round() / 10.0
    };
    Printers {
        total_printers: totals.printers,
        total_installations: totals.installations,
        average_per_installation: average,
        types: amounts(snapshot.cells_of(PRINTER_TYPE)),
    }
}

/// Each cell's amount by value.
fn amounts<'a>(cells: impl Iterator<Item = &'a DimensionRow>) -> BTreeMap<String, i64> {
    cells.map(|c| (c.value.clone(), c.amount)).collect()
}

/// Feature flags of the active installations (30 days).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsFeatures)]
pub struct Features {
    pub features: Vec<FeatureCount>,
    pub total_installations: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureCount {
    pub feature: String,
    pub enabled: i64,
    pub disabled: i64,
    pub enabled_percent: f64,
    /// Installations that report the flag at all.
    pub total_reporting: i64,
}

pub fn features(snapshot: &Snapshot) -> Features {
    Features {
        // Feature cells: installations reporting the flag, amount = those with it on.
        features: snapshot
            .cells_of(FEATURE)
            .map(|c| FeatureCount {
                feature: c.value.clone(),
                enabled: c.amount,
                disabled: c.installations - c.amount,
                enabled_percent: percent(c.amount, c.installations),
                total_reporting: c.installations,
            })
            .collect(),
        total_installations: snapshot.distribution.installations,
    }
}

/// Errors of the active installations; week over week on the 7-day window.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsErrors)]
pub struct Errors {
    pub total_errors: i64,
    /// Installations with non-zero `total_errors`.
    pub installations_with_errors: i64,
    pub error_types: BTreeMap<String, i64>,
    pub this_week_errors: i64,
    pub last_week_errors: i64,
    pub error_change_percent: f64,
    /// `error_change_percent` above 50.
    pub has_spike: bool,
}

pub fn errors(snapshot: &Snapshot) -> Errors {
    let this_week = snapshot.active.errors;
    let last_week = snapshot.active_week_before.errors;
    let change = change_percent(this_week, last_week);
    Errors {
        total_errors: snapshot.distribution.errors,
        installations_with_errors: snapshot.distribution.installations_with_errors,
        error_types: amounts(snapshot.cells_of(ERROR_TYPE)),
        this_week_errors: this_week,
        last_week_errors: last_week,
        error_change_percent: change,
        has_spike: change > 50.0,
    }
}
