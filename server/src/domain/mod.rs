//! The parsed, valid world: a value of one of these types exists only if it passed its rules.
//!
//! A wire adapter (`adapters/`) turns a product's body into `activity::Folded` or returns why
//! not; `Catalog::load` turns the products' declarations into a `Catalog` or names what is wrong.

pub mod activity;
pub mod adapters;
mod catalog;
mod countries;
mod datetime;
mod field_error;
mod values;

pub use adapters::printernizer::{oldest_valid_start, Rules, SubmissionDto, MAX_PERIOD_DAYS};
pub use adapters::Rejected;
pub use catalog::{
    AllowList, Cadence, Catalog, CatalogError, CatalogFile, CountMap, Counter, Dimension,
    EventType, Field, FieldNotice, Flag, Format, KeyPolicy, Measure, Notice, Product,
    ProductNotice, Rate, ReportRules, ValueRule, OTHER, PRINTERNIZER,
};
pub use datetime::parse_datetime;
pub use field_error::FieldError;
pub use values::{country_name, CountryCode, Identifier, InstallationId, Ruled, Version};
