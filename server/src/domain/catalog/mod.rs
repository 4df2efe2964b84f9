//! The catalog: what each product may send, declared as data and checked once at start-up.
//!
//! Tally ships four declarations (`server/catalog/*.toml`, compiled in); an operator's file
//! (`TALLY_CATALOG`) adds products or replaces one of the same name. Each wire adapter reads
//! its product's declaration; nothing product-specific is spelled in the pipeline.

mod error;
mod fields;
mod file;
mod notice;
mod product;
mod rates;
mod report;

pub use error::CatalogError;
pub use fields::{AllowList, CountMap, Counter, Dimension, Field, Flag, Measure, ValueRule};
pub use notice::{FieldNotice, Notice, ProductNotice};
pub use product::{Cadence, EventType, Format, KeyPolicy, Product};
pub use rates::Rate;
pub use report::ReportRules;

/// What a well-formed value outside an allow-list is stored as (and counted), so a newer
/// client never loses a whole report.
pub const OTHER: &str = "other";

/// The product of the routes that came first (`/submit`, `/installation/*`) and of an ingest
/// key without a product prefix.
pub const PRINTERNIZER: &str = "printernizer";

/// The declarations shipped in the binary, by file name.
const BUILT_IN: [CatalogFile<'static>; 4] = [
    CatalogFile {
        name: "printernizer.toml",
        text: include_str!("../../../catalog/printernizer.toml"),
    },
    CatalogFile {
        name: "indexpilot.toml",
        text: include_str!("../../../catalog/indexpilot.toml"),
    },
    CatalogFile {
        name: "stories.toml",
        text: include_str!("../../../catalog/stories.toml"),
    },
    CatalogFile {
        name: "franklinwh.toml",
        text: include_str!("../../../catalog/franklinwh.toml"),
    },
];

/// A catalog file: the name its errors are reported under, and its TOML.
#[derive(Debug, Clone, Copy)]
pub struct CatalogFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// Every declared product, checked.
#[derive(Debug)]
pub struct Catalog {
    /// By name.
    products: Vec<Product>,
    printernizer: ReportRules,
}

impl Catalog {
    /// The built-in products, then those of `operator` (a product of the same name replaces
    /// the built-in one).
    pub fn load(operator: Option<CatalogFile<'_>>) -> Result<Self, CatalogError> {
        let mut products: Vec<Product> = Vec::new();
        for file in BUILT_IN.into_iter().chain(operator) {
            for product in file::parse(file)? {
                products.retain(|known| known.name != product.name);
                products.push(product);
            }
        }
        products.sort_by(|a, b| a.name.cmp(&b.name));
        let printernizer = products
            .iter()
            .find(|product| product.name == PRINTERNIZER)
            .ok_or_else(|| {
                error::Invalid::new("products", "printernizer is not declared")
                    .in_file(BUILT_IN[0].name)
            })
            .and_then(|product| {
                ReportRules::resolve(product, "products.printernizer")
                    .map_err(|invalid| invalid.in_file(BUILT_IN[0].name))
            })?;
        Ok(Self {
            products,
            printernizer,
        })
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn product(&self, name: &str) -> Option<&Product> {
        self.products.iter().find(|product| product.name == name)
    }

    /// Printernizer's report rules: its declaration must exist and read as a report.
    pub fn printernizer(&self) -> &ReportRules {
        &self.printernizer
    }
}

#[cfg(test)]
mod tests;
