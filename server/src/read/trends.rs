//! The dashboard's trends, built from a `Series` of one dimension: versions and features per
//! day (`/stats/version-migration`, `/stats/feature-trends`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::figures::percent;
use super::snapshot::Series;
use super::versions::semantic_cmp;

/// Active installations (7-day window) per version, per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsVersionMigration)]
pub struct VersionMigration {
    pub migration: Vec<VersionsOnDay>,
    /// Highest first, by semantic order.
    pub all_versions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionsOnDay {
    pub date: NaiveDate,
    pub versions: BTreeMap<String, i64>,
}

pub fn version_migration(series: &Series) -> VersionMigration {
    let migration: Vec<VersionsOnDay> = series
        .dates
        .iter()
        .map(|&day| VersionsOnDay {
            date: day,
            versions: (series.cells_on(day))
                .map(|c| (c.value.clone(), c.installations))
                .collect(),
        })
        .collect();
    let all: BTreeSet<&str> = series.cells.iter().map(|c| c.value.as_str()).collect();
    let mut all: Vec<String> = all.into_iter().map(str::to_owned).collect();
    all.sort_by(|a, b| semantic_cmp(b, a));
    VersionMigration {
        migration,
        all_versions: all,
    }
}

/// Installations with each feature enabled (7-day window), per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatsFeatureTrends)]
pub struct FeatureTrends {
    pub trends: Vec<FeaturesOnDay>,
    pub all_features: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeaturesOnDay {
    pub date: NaiveDate,
    pub total_installations: i64,
    pub features: BTreeMap<String, FeatureOnDay>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureOnDay {
    pub enabled: i64,
    pub percent: f64,
}

pub fn feature_trends(series: &Series) -> FeatureTrends {
    let all: BTreeSet<&str> = series.cells.iter().map(|c| c.value.as_str()).collect();
    let trends = series
        .dates
        .iter()
        .map(|&day| {
            let total = series.active_on(day);
            let enabled: BTreeMap<&str, i64> = series
                .cells_on(day)
                .map(|c| (c.value.as_str(), c.amount))
                .collect();
            let features = all
                .iter()
                .map(|&feature| {
                    let on = enabled.get(feature).copied().unwrap_or(0);
                    let percent = percent(on, total);
                    (
                        feature.to_owned(),
                        FeatureOnDay {
                            enabled: on,
                            percent,
                        },
                    )
                })
                .collect();
            FeaturesOnDay {
                date: day,
                total_installations: total,
                features,
            }
        })
        .collect();
    FeatureTrends {
        trends,
        all_features: all.into_iter().map(str::to_owned).collect(),
    }
}
