//! The TOML form of the catalog and its checks. A file becomes products whose every part
//! passed its rule, or one error naming the file and the path inside it. Unknown keys are
//! errors: a misspelt ceiling must not silently become no ceiling.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::error::{CatalogError, Invalid};
use super::fields::{AllowList, CountMap, Counter, Dimension, Field, Flag, Measure, ValueRule};
use super::product::{Cadence, EventType, Format, Product};
use super::rates::Rate;
use super::report::ReportRules;
use super::{CatalogFile, OTHER, PRINTERNIZER};
use crate::domain::values::Identifier;

/// Most bounds a measure's histogram may have; each is a column of the daily tables.
const MAX_BUCKETS: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDto {
    #[serde(default)]
    products: BTreeMap<String, ProductDto>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductDto {
    format: Format,
    key: super::KeyPolicy,
    cadence: Cadence,
    retention_days: Option<u32>,
    #[serde(default)]
    dimensions: BTreeMap<String, DimensionDto>,
    #[serde(default)]
    counters: BTreeMap<String, CounterDto>,
    #[serde(default)]
    measures: BTreeMap<String, MeasureDto>,
    #[serde(default)]
    flags: BTreeMap<String, FlagDto>,
    #[serde(default)]
    count_maps: BTreeMap<String, CountMapDto>,
    #[serde(default)]
    events: BTreeMap<String, EventDto>,
    #[serde(default)]
    rates: BTreeMap<String, RateDto>,
}

/// `numerator` + `denominator`, or `installations_without`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateDto {
    numerator: Option<String>,
    denominator: Option<Vec<String>>,
    installations_without: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DimensionDto {
    allow: Option<Vec<String>>,
    rule: Option<ValueRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterDto {
    max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureDto {
    buckets: Vec<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagDto {
    max_entries: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountMapDto {
    keys: Option<String>,
    max_entries: usize,
    max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventDto {
    #[serde(default)]
    properties: BTreeMap<String, PropertyDto>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PropertyDto {
    Dimension(DimensionDto),
    Counter(CounterDto),
    Measure(MeasureDto),
    Flag(FlagDto),
    CountMap(CountMapDto),
}

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
        if !rates_dto.is_empty() {
            return Err(Invalid::new(
                &format!("{at}.rates"),
                "rates are read from the activity tables; Printernizer's reports have their own",
            ));
        }
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

fn event_of(at: &str, dto: EventDto) -> Result<EventType, Invalid> {
    let mut properties = BTreeMap::new();
    let mut dimensions = BTreeMap::new();
    // A count map may name a dimension declared after it: count maps come last.
    let mut count_maps = Vec::new();
    for (name, property) in dto.properties {
        let at = format!("{at}.properties.{name}");
        identifier(&at, &name, "a property's name")?;
        let field = match property {
            PropertyDto::Dimension(dimension) => {
                let dimension = dimension_of(&at, dimension)?;
                dimensions.insert(name.clone(), dimension.clone());
                Field::Dimension(dimension)
            }
            PropertyDto::Counter(counter) => Field::Counter(Counter { max: counter.max }),
            PropertyDto::Measure(measure) => Field::Measure(measure_of(&at, measure)?),
            PropertyDto::Flag(flag) => Field::Flag(flag_of(&at, flag)?),
            PropertyDto::CountMap(map) => {
                count_maps.push((name, at, map));
                continue;
            }
        };
        properties.insert(name, field);
    }
    for (name, at, map) in count_maps {
        let map = count_map_of(&at, map, &dimensions)?;
        properties.insert(name, Field::CountMap(map));
    }
    Ok(EventType { properties })
}

fn dimension_of(at: &str, dto: DimensionDto) -> Result<Dimension, Invalid> {
    match (dto.allow, dto.rule) {
        (Some(_), Some(_)) => Err(Invalid::new(
            at,
            "a dimension has an allow-list or a rule, not both",
        )),
        (None, None) => Err(Invalid::new(
            at,
            "a dimension needs an allow-list (`allow`) or a rule (`rule`)",
        )),
        (None, Some(rule)) => Ok(Dimension {
            allow: None,
            rule: Some(rule),
        }),
        (Some(values), None) => {
            if values.is_empty() {
                return Err(Invalid::new(at, "an allow-list needs at least one value"));
            }
            let mut seen = BTreeSet::new();
            for value in &values {
                identifier(&format!("{at}.allow"), value, "an allowed value")?;
                if value == OTHER {
                    return Err(Invalid::new(
                        &format!("{at}.allow"),
                        "`other` is what values outside the list become; it cannot be listed",
                    ));
                }
                if !seen.insert(value) {
                    return Err(Invalid::new(
                        &format!("{at}.allow"),
                        format!("`{value}` is listed twice"),
                    ));
                }
            }
            Ok(Dimension {
                allow: Some(AllowList(values)),
                rule: None,
            })
        }
    }
}

fn measure_of(at: &str, dto: MeasureDto) -> Result<Measure, Invalid> {
    let at_min = &format!("{at}.min");
    let at = format!("{at}.buckets");
    if dto.buckets.is_empty() || dto.buckets.len() > MAX_BUCKETS {
        return Err(Invalid::new(
            &at,
            format!("a measure has 1 to {MAX_BUCKETS} bucket bounds"),
        ));
    }
    let finite = dto
        .buckets
        .iter()
        .chain(&dto.min)
        .chain(&dto.max)
        .all(|b| b.is_finite());
    let ascending = dto.buckets.windows(2).all(|pair| pair[0] < pair[1]);
    if !finite || !ascending {
        return Err(Invalid::new(
            &at,
            "bucket bounds are finite numbers in strictly ascending order",
        ));
    }
    if let (Some(min), Some(max)) = (dto.min, dto.max) {
        if min > max {
            return Err(Invalid::new(at_min, "`min` is at most `max`"));
        }
    }
    Ok(Measure {
        buckets: dto.buckets,
        min: dto.min,
        max: dto.max,
    })
}

fn flag_of(at: &str, dto: FlagDto) -> Result<Flag, Invalid> {
    if dto.max_entries == Some(0) {
        return Err(Invalid::new(
            &format!("{at}.max_entries"),
            "must be at least 1",
        ));
    }
    Ok(Flag {
        max_entries: dto.max_entries,
    })
}

fn count_map_of(
    at: &str,
    dto: CountMapDto,
    dimensions: &BTreeMap<String, Dimension>,
) -> Result<CountMap, Invalid> {
    if dto.max_entries == 0 {
        return Err(Invalid::new(
            &format!("{at}.max_entries"),
            "must be at least 1",
        ));
    }
    if let Some(keys) = &dto.keys {
        if dimensions
            .get(keys)
            .and_then(Dimension::allow_list)
            .is_none()
        {
            return Err(Invalid::new(
                &format!("{at}.keys"),
                format!("`{keys}` is not a dimension with an allow-list beside this count map"),
            ));
        }
    }
    Ok(CountMap {
        keys: dto.keys,
        max_entries: dto.max_entries,
        max: dto.max,
    })
}

fn identifier(at: &str, text: &str, what: &str) -> Result<(), Invalid> {
    if Identifier::is_valid(text) {
        Ok(())
    } else {
        Err(Invalid::new(
            at,
            format!(
                "{what} is a plain identifier (a-z, 0-9, _; at most {} characters)",
                Identifier::MAX_LEN
            ),
        ))
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
