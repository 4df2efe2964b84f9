//! The bodies of `/stats/overview` and `/stats/export`: the dashboard's figures together.

use chrono::Utc;
use serde::Serialize;

use crate::read::{self, figures, Anomalies, Series, Snapshot};

/// Everything the dashboard shows; the overview and the export differ in their lists' lengths
/// and their stamp.
#[derive(Serialize)]
pub struct Dashboard {
    installations: figures::Installations,
    deployment_modes: figures::DeploymentModes,
    versions: figures::Versions,
    geography: figures::Geography,
    printers: figures::Printers,
    features: figures::Features,
    anomalies: Anomalies,
    #[serde(flatten)]
    stamp: Stamp,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stamp {
    /// When the daily tables were last rolled.
    LastUpdated(Option<String>),
    ExportedAt(String),
}

impl Dashboard {
    /// `versions` and `geography` cut at the given limits.
    pub fn of(
        snapshot: &Snapshot,
        trend: &Series,
        (versions, countries): (u32, u32),
        stamp: Stamp,
    ) -> Self {
        Self {
            installations: figures::installations(snapshot, trend),
            deployment_modes: figures::deployment_modes(snapshot),
            versions: figures::versions(snapshot, versions),
            geography: figures::geography(snapshot, countries),
            printers: figures::printers(snapshot),
            features: figures::features(snapshot),
            anomalies: read::anomalies(snapshot, Utc::now()),
            stamp,
        }
    }
}
