//! One declared product: its wire format, key policy and cadence, and what it may send.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fields::{CountMap, Counter, Dimension, Field, Flag, Measure};
use super::rates::Rate;
use crate::domain::activity::key;

/// How a product's clients send: each format has one adapter that reads its bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Printernizer's weekly `AggregatedStats` to `POST /submit`.
    PrinternizerReport,
    /// IndexPilot's daily report to `POST /api/v1/telemetry`.
    IndexpilotTelemetry,
    /// Batches of events to `POST /api/events/batch`, crash reports to `POST /api/crashes`.
    EventBatch,
    /// PostHog-style capture: `/capture/` and `/batch/`, the key in the body's `api_key`.
    PosthogCapture,
}

impl Format {
    /// The counter a dimension's value weighs in the windows of a report format: the amount of
    /// a Printernizer version is its installations' jobs, as its `/stats` has always shown.
    /// None: a value counts 1.
    pub fn dimension_weight(self) -> Option<&'static str> {
        match self {
            Self::PrinternizerReport => {
                Some(crate::domain::adapters::printernizer::path::JOB_COUNT)
            }
            Self::IndexpilotTelemetry | Self::EventBatch | Self::PosthogCapture => None,
        }
    }
}

/// Whether a client must present an ingest key of its product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyPolicy {
    Required,
    /// Guarded by the per-source limit and validation alone (a desktop app ships no secret).
    None,
}

/// How often one installation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Weekly,
    Daily,
    /// Events whenever they happen, folded into one row per installation per day.
    Events,
}

/// What one event type may carry besides its type and time.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventType {
    pub(super) properties: BTreeMap<String, Field>,
}

impl EventType {
    pub fn property(&self, name: &str) -> Option<&Field> {
        self.properties.get(name)
    }
}

/// A product as declared and checked. Anything it does not declare is dropped and counted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Product {
    #[schema(example = "printernizer")]
    pub(super) name: String,
    pub(super) format: Format,
    pub(super) key: KeyPolicy,
    pub(super) cadence: Cadence,
    /// Days raw per-installation rows are kept; without it, `TALLY_RAW_RETENTION_DAYS`.
    pub(super) retention_days: Option<u32>,
    pub(super) dimensions: BTreeMap<String, Dimension>,
    pub(super) counters: BTreeMap<String, Counter>,
    pub(super) measures: BTreeMap<String, Measure>,
    pub(super) flags: BTreeMap<String, Flag>,
    pub(super) count_maps: BTreeMap<String, CountMap>,
    pub(super) events: BTreeMap<String, EventType>,
    /// Ratios read from the daily tables, by name (`/api/v1/metrics/{name}`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) rates: BTreeMap<String, Rate>,
    /// The product's own fields of every section, by name (names are unique across sections).
    #[serde(skip)]
    pub(super) fields: BTreeMap<String, Field>,
}

impl Product {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn key(&self) -> KeyPolicy {
        self.key
    }

    pub fn cadence(&self) -> Cadence {
        self.cadence
    }

    pub fn retention_days(&self) -> Option<u32> {
        self.retention_days
    }

    /// One of the product's own fields (not an event's property), whatever its section.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.get(name)
    }

    pub fn event(&self, event_type: &str) -> Option<&EventType> {
        self.events.get(event_type)
    }

    /// The field at `path`: one of the product's own (`os`) or an event type's property
    /// (`transcription_completed.duration`).
    pub fn field_at(&self, path: &str) -> Option<&Field> {
        match path.split_once('.') {
            Some((event_type, property)) => self.event(event_type)?.property(property),
            None => self.field(path),
        }
    }

    pub fn rate(&self, name: &str) -> Option<&Rate> {
        self.rates.get(name)
    }

    pub fn rates(&self) -> impl Iterator<Item = (&str, &Rate)> {
        self.rates.iter().map(|(name, rate)| (name.as_str(), rate))
    }

    /// The paths of every field of a kind, own fields and event properties alike.
    pub fn paths(&self) -> impl Iterator<Item = (String, &Field)> {
        let own = self
            .fields
            .iter()
            .map(|(name, field)| (name.clone(), field));
        let properties = self.events.iter().flat_map(|(event_type, event)| {
            event
                .properties
                .iter()
                .map(move |(name, field)| (key::property(event_type, name), field))
        });
        own.chain(properties)
    }

    pub fn event_types(&self) -> impl Iterator<Item = (&str, &EventType)> {
        self.events
            .iter()
            .map(|(name, event)| (name.as_str(), event))
    }
}
