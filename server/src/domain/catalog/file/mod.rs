//! The TOML form of the catalog and its checks. A file becomes products whose every part
//! passed its rule, or one error naming the file and the path inside it. Unknown keys are
//! errors: a misspelt ceiling must not silently become no ceiling.

mod dto;
mod kinds;

use std::collections::{BTreeMap, BTreeSet};

use dto::{FileDto, ProductDto, RateDto};
use kinds::{count_map_of, dimension_of, event_of, flag_of, identifier, measure_of};

use super::error::{CatalogError, Invalid};
use super::fields::{Counter, Field};
use super::product::{Cadence, Format, Product};
use super::rates::Rate;
use super::report::ReportRules;
use super::{CatalogFile, PRINTERNIZER};

/// Every product a file declares, each checked on its own.
pub(super) fn parse(file: CatalogFile<'_>) -> Result<Vec<Product>, CatalogError> {
    let dto = read(file.text).map_err(|invalid| invalid.in_file(file.name))?;
    dto.products
        .into_iter()
        .map(|(name, product)| {
            product_of(&format!("products.{name}"), name, product)
                .map_err(|invalid| invalid.in_file(file.name))
        })
        .collect()
}

fn read(text: &str) -> Result<FileDto, Invalid> {
    let toml = toml::Deserializer::parse(text)
        .map_err(|error| Invalid::new(&line_of(text, &error), error.message()))?;
    serde_path_to_error::deserialize(toml).map_err(|error| {
        let at = error.path().to_string();
        let inner = error.into_inner();
        let at = if at.is_empty() || at == "." {
            line_of(text, &inner)
        } else {
            at
        };
        Invalid::new(&at, inner.message())
    })
}

/// Where a syntax error is: the line, as editors count them.
fn line_of(text: &str, error: &toml::de::Error) -> String {
    error.span().map_or_else(
        || "the file".to_owned(),
        |span| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}")
        },
    )
}

fn product_of(at: &str, name: String, dto: ProductDto) -> Result<Product, Invalid> {
    identifier(at, &name, "a product's name")?;
    let expected = match dto.format {
        Format::PrinternizerReport => Cadence::Weekly,
        Format::IndexpilotTelemetry => Cadence::Daily,
        Format::EventBatch | Format::PosthogCapture => Cadence::Events,
    };
    if dto.cadence != expected {
        return Err(Invalid::new(
            &format!("{at}.cadence"),
            format!(
                "the {} format has the cadence `{}`",
                format_name(dto.format),
                cadence_name(expected)
            ),
        ));
    }
    if name == PRINTERNIZER && dto.format != Format::PrinternizerReport {
        return Err(Invalid::new(
            &format!("{at}.format"),
            "Printernizer's routes (/submit, /installation) read `printernizer_report`",
        ));
    }
    if dto.retention_days == Some(0) {
        return Err(Invalid::new(
            &format!("{at}.retention_days"),
            "must be at least 1",
        ));
    }
    let events_sent = expected == Cadence::Events;
    let own_fields = dto.dimensions.len()
        + dto.counters.len()
        + dto.measures.len()
        + dto.flags.len()
        + dto.count_maps.len();
    if events_sent && own_fields > 0 {
        return Err(Invalid::new(
            at,
            "an event product declares its fields per event type, under `events`",
        ));
    }
    if events_sent && dto.events.is_empty() {
        return Err(Invalid::new(
            &format!("{at}.events"),
            "an event product needs at least one event type",
        ));
    }
    if !events_sent && !dto.events.is_empty() {
        return Err(Invalid::new(
            &format!("{at}.events"),
            format!("the {} format sends no events", format_name(dto.format)),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut once = |section: &str, field: &str| {
        let at = format!("{at}.{section}.{field}");
        identifier(&at, field, "a field's name")?;
        if seen.insert(field.to_owned()) {
            Ok(at)
        } else {
            Err(Invalid::new(
                &at,
                "this name is declared in another section too",
            ))
        }
    };
    let mut dimensions = BTreeMap::new();
    for (field, dimension) in dto.dimensions {
        let at = once("dimensions", &field)?;
        dimensions.insert(field, dimension_of(&at, dimension)?);
    }
    let mut counters = BTreeMap::new();
    for (field, counter) in dto.counters {
        once("counters", &field)?;
        counters.insert(field, Counter { max: counter.max });
    }
    let mut measures = BTreeMap::new();
    for (field, measure) in dto.measures {
        let at = once("measures", &field)?;
        measures.insert(field, measure_of(&at, measure)?);
    }
    let mut flags = BTreeMap::new();
    for (field, flag) in dto.flags {
        let at = once("flags", &field)?;
        flags.insert(field, flag_of(&at, flag)?);
    }
    let mut count_maps = BTreeMap::new();
    for (field, map) in dto.count_maps {
        let at = once("count_maps", &field)?;
        count_maps.insert(field, count_map_of(&at, map, &dimensions)?);
    }
    let mut events = BTreeMap::new();
    for (event, dto) in dto.events {
        let at = format!("{at}.events.{event}");
        identifier(&at, &event, "an event type")?;
        events.insert(event, event_of(&at, dto)?);
    }
    let rates_dto = dto.rates;
    let fields = dimensions
        .iter()
        .map(|(name, d)| (name.clone(), Field::Dimension(d.clone())))
        .chain(
            counters
                .iter()
                .map(|(n, c)| (n.clone(), Field::Counter(*c))),
        )
        .chain(
            measures
                .iter()
                .map(|(n, m)| (n.clone(), Field::Measure(m.clone()))),
        )
        .chain(flags.iter().map(|(n, f)| (n.clone(), Field::Flag(*f))))
        .chain(
            count_maps
                .iter()
                .map(|(n, m)| (n.clone(), Field::CountMap(m.clone()))),
        )
        .collect();
    let product = Product {
        name,
        format: dto.format,
        key: dto.key,
        cadence: dto.cadence,
        retention_days: dto.retention_days,
        dimensions,
        counters,
        measures,
        flags,
        count_maps,
        events,
        rates: BTreeMap::new(),
        fields,
    };
    if product.format == Format::PrinternizerReport {
        ReportRules::resolve(&product, at)?;
    }
    if !events_sent && !rates_dto.is_empty() {
        return Err(Invalid::new(
            &format!("{at}.rates"),
            "a rate divides events: a product that sends reports declares none",
        ));
    }
    let mut rates = BTreeMap::new();
    for (name, rate) in rates_dto {
        let at = format!("{at}.rates.{name}");
        identifier(&at, &name, "a rate's name")?;
        if BUILT_IN_METRICS.contains(&name.as_str()) || product.field(&name).is_some() {
            return Err(Invalid::new(
                &at,
                "a rate's name is a metric's name already (a built-in one or a field's)",
            ));
        }
        rates.insert(name, rate_of(&at, rate, &product)?);
    }
    Ok(Product { rates, ..product })
}

/// The metrics every activity product has (`/api/v1/metrics/{name}`): a rate cannot take their
/// names.
pub(crate) const BUILT_IN_METRICS: [&str; 3] = [
    "active_installations",
    "new_installations",
    "known_installations",
];

fn rate_of(at: &str, dto: RateDto, product: &Product) -> Result<Rate, Invalid> {
    let event = |at: &str, event_type: &str| {
        if product.event(event_type).is_some() {
            Ok(event_type.to_owned())
        } else {
            Err(Invalid::new(
                at,
                format!("`{event_type}` is not an event type of this product"),
            ))
        }
    };
    match dto {
        RateDto {
            numerator: Some(numerator),
            denominator: Some(denominator),
            installations_without: None,
        } => {
            let at_numerator = format!("{at}.numerator");
            if numerator.contains('.') {
                let single_flag = matches!(
                    product.field_at(&numerator),
                    Some(Field::Flag(flag)) if flag.max_entries().is_none()
                );
                if !single_flag {
                    return Err(Invalid::new(
                        &at_numerator,
                        format!("`{numerator}` is not a flag (without entries) of this product"),
                    ));
                }
            } else {
                event(&at_numerator, &numerator)?;
            }
            if denominator.is_empty() {
                return Err(Invalid::new(
                    &format!("{at}.denominator"),
                    "a denominator needs at least one event type",
                ));
            }
            let denominator = denominator
                .iter()
                .map(|event_type| event(&format!("{at}.denominator"), event_type))
                .collect::<Result<_, _>>()?;
            Ok(Rate::Ratio {
                numerator,
                denominator,
            })
        }
        RateDto {
            numerator: None,
            denominator: None,
            installations_without: Some(event_type),
        } => Ok(Rate::InstallationsWithout {
            installations_without: event(&format!("{at}.installations_without"), &event_type)?,
        }),
        _ => Err(Invalid::new(
            at,
            "a rate has `numerator` and `denominator`, or `installations_without` alone",
        )),
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::PrinternizerReport => "printernizer_report",
        Format::IndexpilotTelemetry => "indexpilot_telemetry",
        Format::EventBatch => "event_batch",
        Format::PosthogCapture => "posthog_capture",
    }
}

fn cadence_name(cadence: Cadence) -> &'static str {
    match cadence {
        Cadence::Weekly => "weekly",
        Cadence::Daily => "daily",
        Cadence::Events => "events",
    }
}
