//! The parsed, valid world: a value of one of these types exists only if it passed its rules.
//!
//! `Submission::parse` turns the wire DTO into a `Submission` or returns every broken field;
//! `Catalog::load` turns the products' declarations into a `Catalog` or names what is wrong.

pub mod activity;
pub mod adapters;
mod catalog;
mod countries;
mod datetime;
mod field_error;
mod submission;
mod values;

pub use catalog::{
    AllowList, Cadence, Catalog, CatalogError, CatalogFile, CountMap, Counter, Dimension,
    EventType, Field, FieldNotice, Flag, Format, KeyPolicy, Measure, Notice, Product,
    ProductNotice, Rate, ReportRules, ValueRule, OTHER, PRINTERNIZER,
};
pub use datetime::parse_datetime;
pub use field_error::FieldError;
pub use submission::{
    oldest_valid_start, Parsed, Period, RejectedSubmission, Rules, Submission, SubmissionDto,
    UsageCounts, MAX_PERIOD_DAYS,
};
pub use values::{country_name, CountryCode, Identifier, InstallationId, Version};
