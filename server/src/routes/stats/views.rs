//! The bodies of the `/stats/*` routes, built from what `snapshot` loaded: the keys are
//! Printernizer's dashboard's (CONTRACT.md), the numbers are exact over the daily tables.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::snapshot::{
    Series, Snapshot, COUNTRY, DEPLOYMENT_MODE, ERROR_TYPE, FEATURE, PRINTER_TYPE, VERSION,
};
use super::versions::{highest, semantic_cmp};
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

pub fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
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

pub fn installations(snapshot: &Snapshot, trend: &Series) -> Value {
    let trend: Vec<Value> = trend
        .dates
        .iter()
        .map(|&day| {
            json!({"date": date(day), "total": trend.known_by(day), "active": trend.active_on(day)})
        })
        .collect();
    json!({
        "total": snapshot.known_installations(),
        "active_7d": snapshot.active.installations,
        "active_30d": snapshot.distribution.installations,
        "growth_7d_percent": change_percent(
            snapshot.active.installations,
            snapshot.active_week_before.installations,
        ),
        "trend": trend,
    })
}

pub fn deployment_modes(snapshot: &Snapshot) -> Value {
    let total = snapshot.distribution.installations;
    let mut breakdown = Map::new();
    let mut percentages = Map::new();
    let mut names: BTreeMap<String, &str> = ["homeassistant", "docker", "standalone", "pi"]
        .into_iter()
        .map(|mode| (mode.to_owned(), display_name(mode)))
        .collect();
    for cell in ranked(snapshot.cells_of(DEPLOYMENT_MODE)) {
        breakdown.insert(cell.value.clone(), json!(cell.installations));
        percentages.insert(
            cell.value.clone(),
            json!(percent(cell.installations, total)),
        );
        names.insert(cell.value.clone(), display_name(&cell.value));
    }
    json!({
        "total": total,
        "breakdown": breakdown,
        "percentages": percentages,
        "display_names": names,
    })
}

pub fn versions(snapshot: &Snapshot, limit: u32) -> Value {
    let total = snapshot.distribution.installations;
    let cells = ranked(snapshot.cells_of(VERSION));
    let latest = highest(cells.iter().map(|c| c.value.as_str()));
    let on_latest = cells
        .iter()
        .find(|c| Some(c.value.as_str()) == latest)
        .map_or(0, |c| c.installations);
    let listed: Vec<Value> = cells
        .iter()
        .take(limit as usize)
        .map(|c| {
            json!({"version": c.value, "count": c.installations,
                   "percentage": percent(c.installations, total)})
        })
        .collect();
    json!({
        "versions": listed,
        "latest_version": latest,
        "adoption_rate_latest": percent(on_latest, total),
        "total_versions": cells.len(),
    })
}

pub fn geography(snapshot: &Snapshot, limit: u32) -> Value {
    let total = snapshot.distribution.installations;
    let cells = ranked(snapshot.cells_of(COUNTRY));
    let countries: Vec<Value> = cells
        .iter()
        .take(limit as usize)
        .map(|c| {
            json!({"code": c.value, "name": country_name(&c.value), "count": c.installations,
                   "percentage": percent(c.installations, total)})
        })
        .collect();
    json!({
        "countries": countries,
        // Known countries only: `XX` (unknown) is not a country.
        "total_countries": cells.iter().filter(|c| c.value != "XX").count(),
    })
}

pub fn printers(snapshot: &Snapshot) -> Value {
    let totals = &snapshot.distribution;
    let types: BTreeMap<&str, i64> = snapshot
        .cells_of(PRINTER_TYPE)
        .map(|c| (c.value.as_str(), c.amount))
        .collect();
    let average = if totals.installations == 0 {
        0.0
    } else {
        (totals.printers as f64 * 10.0 / totals.installations as f64).round() / 10.0
    };
    json!({
        "total_printers": totals.printers,
        "total_installations": totals.installations,
        "average_per_installation": average,
        "types": types,
    })
}

pub fn features(snapshot: &Snapshot) -> Value {
    let features: Vec<Value> = snapshot
        .cells_of(FEATURE)
        .map(|c| {
            // Feature cells: installations reporting the flag, amount = those with it on.
            json!({
                "feature": c.value,
                "enabled": c.amount,
                "disabled": c.installations - c.amount,
                "enabled_percent": percent(c.amount, c.installations),
                "total_reporting": c.installations,
            })
        })
        .collect();
    json!({
        "features": features,
        "total_installations": snapshot.distribution.installations,
    })
}

pub fn errors(snapshot: &Snapshot) -> Value {
    let this_week = snapshot.active.errors;
    let last_week = snapshot.active_week_before.errors;
    let change = change_percent(this_week, last_week);
    let types: BTreeMap<&str, i64> = snapshot
        .cells_of(ERROR_TYPE)
        .map(|c| (c.value.as_str(), c.amount))
        .collect();
    json!({
        "total_errors": snapshot.distribution.errors,
        "installations_with_errors": snapshot.distribution.installations_with_errors,
        "error_types": types,
        "this_week_errors": this_week,
        "last_week_errors": last_week,
        "error_change_percent": change,
        "has_spike": change > 50.0,
    })
}

pub fn version_migration(series: &Series) -> Value {
    let mut all = BTreeSet::new();
    let migration: Vec<Value> = series
        .dates
        .iter()
        .map(|&day| {
            let versions: BTreeMap<&str, i64> = series
                .cells_on(day)
                .map(|c| {
                    all.insert(c.value.as_str());
                    (c.value.as_str(), c.installations)
                })
                .collect();
            json!({"date": date(day), "versions": versions})
        })
        .collect();
    let mut all: Vec<&str> = all.into_iter().collect();
    all.sort_by(|a, b| semantic_cmp(b, a));
    json!({"migration": migration, "all_versions": all})
}

pub fn feature_trends(series: &Series) -> Value {
    let all: BTreeSet<&str> = series.cells.iter().map(|c| c.value.as_str()).collect();
    let trends: Vec<Value> = series
        .dates
        .iter()
        .map(|&day| {
            let total = series.active_on(day);
            let enabled: BTreeMap<&str, i64> = series
                .cells_on(day)
                .map(|c| (c.value.as_str(), c.amount))
                .collect();
            let features: Map<String, Value> = all
                .iter()
                .map(|&feature| {
                    let on = enabled.get(feature).copied().unwrap_or(0);
                    (
                        feature.to_owned(),
                        json!({"enabled": on, "percent": percent(on, total)}),
                    )
                })
                .collect();
            json!({"date": date(day), "total_installations": total, "features": features})
        })
        .collect();
    json!({"trends": trends, "all_features": all})
}
