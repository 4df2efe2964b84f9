//! The adapters against each client's real body shapes, with the shipped catalog.

mod capture;
mod envelope;
mod events;
mod fold;
mod indexpilot;
mod printernizer;

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::domain::activity::{Counts, Folded};
use crate::domain::{Catalog, CatalogFile, Product, Rejected};

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load(None).expect("the shipped catalog loads"))
}

fn product(name: &str) -> &'static Product {
    catalog().product(name).expect("a shipped product")
}

/// A product declared by an operator's file, beside the shipped ones.
fn operator_product(name: &str, toml: &str) -> &'static Product {
    let catalog = Catalog::load(Some(CatalogFile {
        name: "operator.toml",
        text: toml,
    }))
    .expect("the operator's catalog loads");
    Box::leak(Box::new(catalog))
        .product(name)
        .expect("the operator's product")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 10, 12, 0, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, d).unwrap()
}

fn counts(pairs: &[(&str, f64)]) -> Counts {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The only row of a fold.
fn only_row(folded: &Folded) -> &Counts {
    assert_eq!(folded.rows.len(), 1, "{folded:?}");
    &folded.rows[0].counts
}

/// The locs of a 422, each with its leading `body`.
fn locs(rejected: Rejected) -> Vec<Vec<String>> {
    match rejected {
        Rejected::Invalid(errors) => errors.into_iter().map(|e| e.loc).collect(),
        Rejected::Malformed(message) => panic!("malformed, not invalid: {message}"),
    }
}

fn loc(parts: &[&str]) -> Vec<String> {
    std::iter::once("body")
        .chain(parts.iter().copied())
        .map(str::to_owned)
        .collect()
}

fn body(value: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap()
}
