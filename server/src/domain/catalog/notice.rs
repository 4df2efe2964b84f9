//! The privacy notice: what each declared product's clients may send, what Tally keeps of it,
//! what it drops and never stores, and for how long, made from the same declarations the
//! adapters enforce, so that the public page and the server's behaviour cannot drift apart.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Cadence, Catalog, Field, Format, KeyPolicy, Product, ValueRule};

/// What no product's data ever holds, whatever its format.
const NEVER_STORED: [&str; 6] = [
    "IP addresses: the per-source rate limit keys on a hash of the address with a random salt \
     that lives in memory only and is replaced daily",
    "user agents and every other request header",
    "API keys",
    "fields, properties and event types the product does not declare: dropped, and only \
     counted as dropped",
    "free text: a value must be a number, a flag, a listed value or a plain identifier or version",
    "single events: events are added into one row per installation and day",
];

/// The notice for every declared product.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notice {
    /// Public outputs merge or hide every group of fewer installations than this.
    #[schema(example = 5)]
    pub min_cohort: u32,
    /// Never stored, from any product.
    pub never_stored: Vec<&'static str>,
    pub products: Vec<ProductNotice>,
}

/// One product's part of the notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductNotice {
    #[schema(example = "stories")]
    pub name: String,
    /// The routes its clients post to.
    #[schema(example = json!(["POST /api/events/batch", "POST /api/crashes"]))]
    pub routes: Vec<&'static str>,
    pub key: KeyPolicy,
    pub cadence: Cadence,
    /// What one stored row is.
    pub stored_as: &'static str,
    /// Days the raw rows (with the installation's random id) are kept; after that only the
    /// daily totals, which hold no id.
    #[schema(example = 400)]
    pub raw_retention_days: u32,
    /// Event types counted per day (empty for a report product).
    pub events: Vec<String>,
    /// Every field kept, the product's own and each event type's properties.
    pub fields: Vec<FieldNotice>,
    /// What this product's format drops and never stores, beyond `never_stored`.
    pub dropped: Vec<&'static str>,
}

/// One kept field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldNotice {
    /// The field's name, or `event.property`.
    #[schema(example = "app_opened.os_version")]
    pub path: String,
    #[schema(example = "dimension")]
    pub kind: &'static str,
    /// What is kept of it, in words.
    pub kept: String,
    /// The values kept as they are; any other is stored as `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
}

impl Notice {
    /// `default_retention_days`: the raw retention of a product that declares none.
    pub fn new(catalog: &Catalog, min_cohort: u32, default_retention_days: u32) -> Self {
        Self {
            min_cohort,
            never_stored: NEVER_STORED.to_vec(),
            products: catalog
                .products()
                .iter()
                .map(|product| ProductNotice::new(product, default_retention_days))
                .collect(),
        }
    }
}

impl ProductNotice {
    fn new(product: &Product, default_retention_days: u32) -> Self {
        let format = product.format();
        Self {
            name: product.name().to_owned(),
            routes: format.routes().to_vec(),
            key: product.key(),
            cadence: product.cadence(),
            stored_as: match product.cadence() {
                Cadence::Weekly => {
                    "one row per installation and weekly period: a resent report replaces it"
                }
                Cadence::Daily => "one row per installation and day: a resent report replaces it",
                Cadence::Events => "one row per installation and day: events are added into it",
            },
            raw_retention_days: product.retention_days().unwrap_or(default_retention_days),
            events: product
                .event_types()
                .map(|(name, _)| name.to_owned())
                .collect(),
            fields: product
                .paths()
                .map(|(path, field)| FieldNotice::new(path, field))
                .collect(),
            dropped: format.never_stored().to_vec(),
        }
    }
}

impl FieldNotice {
    fn new(path: String, field: &Field) -> Self {
        let (kind, kept, allow) = match field {
            Field::Dimension(dimension) => {
                let allow = dimension.allow_list().map(|list| list.0.clone());
                let kept = match (allow.is_some(), dimension.rule()) {
                    (true, _) | (false, None) => {
                        "one of the listed values; any other is stored as `other`".to_owned()
                    }
                    (false, Some(rule)) => rule.kept().to_owned(),
                };
                ("dimension", kept, allow)
            }
            Field::Counter(counter) => (
                "counter",
                format!("a whole number from 0 to {}, summed", counter.max()),
                None,
            ),
            Field::Measure(measure) => {
                let max = measure
                    .max()
                    .map_or(String::new(), |max| format!(" to {max}"));
                let kept = format!(
                    "a number from {}{max}, kept as a count, a sum and how many fell under \
                     each of the bounds {:?}",
                    measure.min(),
                    measure.buckets()
                );
                ("measure", kept, None)
            }
            Field::Flag(flag) => {
                let kept = match flag.max_entries() {
                    None => "on or off, counted when on".to_owned(),
                    Some(entries) => format!(
                        "on or off by plain identifier (at most {entries}), counted when on"
                    ),
                };
                ("flag", kept, None)
            }
            Field::CountMap(map) => {
                let keys = map.keys().map_or("plain identifiers".to_owned(), |keys| {
                    format!("the values of `{keys}`")
                });
                let kept = format!(
                    "counts by {keys}, at most {} keys, each from 0 to {}",
                    map.max_entries(),
                    map.max()
                );
                ("count_map", kept, None)
            }
        };
        Self {
            path,
            kind,
            kept,
            allow,
        }
    }
}

impl ValueRule {
    /// What is kept of a value under this rule, in words (`reduce` is the rule itself).
    fn kept(self) -> &'static str {
        match self {
            Self::Identifier => {
                "a plain identifier (a-z, 0-9, _; at most 48 characters); of anything else its \
                 leading word when that is one, else `other`; an address, path or e-mail is \
                 `other` whole"
            }
            Self::Version => {
                "a version (1 to 40 of A-Z a-z 0-9 . - _ +); of anything else its first \
                 version-shaped part (`14.1` of `macOS 14.1`), else `other`"
            }
            Self::Country => "a two-letter country code (ISO 3166-1), or XX for unknown",
        }
    }
}

impl Format {
    /// The routes a client of this format posts to.
    pub fn routes(self) -> &'static [&'static str] {
        match self {
            Self::PrinternizerReport => &["POST /submit"],
            Self::IndexpilotTelemetry => &["POST /api/v1/telemetry"],
            Self::EventBatch => &["POST /api/events/batch", "POST /api/crashes"],
            Self::PosthogCapture => &[
                "POST /capture",
                "POST /batch",
                "POST /e",
                "POST /i/v0/e",
                "POST /track",
                "POST /engage",
            ],
        }
    }

    /// What this format's bodies carry that is dropped and never stored.
    pub fn never_stored(self) -> &'static [&'static str] {
        match self {
            Self::PrinternizerReport | Self::IndexpilotTelemetry => &[],
            Self::EventBatch => &[
                "a crash report's message and stack trace: only the error's type name (such \
                 as `TypeError`) is counted",
                "event timestamps: only the UTC day an event happened on",
            ],
            Self::PosthogCapture => &[
                "`$ip` and every `$`-prefixed property the product does not declare",
                "`$identify`, `$set` and other `$` events, and `/engage` person updates (they \
                 may carry e-mail addresses)",
                "event ids (`uuid`) and timestamps: only the UTC day an event happened on",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_product_and_every_declared_field_is_in_the_notice() {
        let catalog = Catalog::load(None).expect("the built-in catalog loads");
        let notice = Notice::new(&catalog, 5, 400);

        for product in catalog.products() {
            let listed = notice
                .products
                .iter()
                .find(|listed| listed.name == product.name())
                .expect("the product is listed");
            let paths: Vec<String> = product.paths().map(|(path, _)| path).collect();
            let noticed: Vec<&String> = listed.fields.iter().map(|field| &field.path).collect();
            assert_eq!(noticed.len(), paths.len(), "{}", product.name());
            assert!(paths.iter().all(|path| noticed.contains(&path)));
        }
    }

    #[test]
    fn an_allow_list_is_listed_and_a_product_keeps_raw_rows_the_default_days_unless_it_declares_its_own(
    ) {
        let catalog = Catalog::load(Some(super::super::CatalogFile {
            name: "kiln.toml",
            text: "[products.kiln]\nformat = \"indexpilot_telemetry\"\nkey = \"required\"\n\
                   cadence = \"daily\"\nretention_days = 90\n",
        }))
        .expect("the catalog loads");
        let notice = Notice::new(&catalog, 5, 400);
        let product = |name: &str| {
            notice
                .products
                .iter()
                .find(|product| product.name == name)
                .expect("the product is declared")
        };
        let stories = product("stories");
        let language = stories
            .fields
            .iter()
            .find(|field| field.path == "app_opened.language")
            .expect("the language is declared");

        assert!(language
            .allow
            .as_ref()
            .is_some_and(|allow| allow.contains(&"de".to_owned())));
        assert_eq!(stories.raw_retention_days, 400);
        assert_eq!(product("kiln").raw_retention_days, 90);
        assert!(stories
            .dropped
            .iter()
            .any(|text| text.contains("stack trace")));
    }
}
