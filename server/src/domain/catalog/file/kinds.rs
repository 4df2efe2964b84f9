//! The checks of each kind of value a product or an event type may declare.

use std::collections::{BTreeMap, BTreeSet};

use super::super::error::Invalid;
use super::super::fields::{AllowList, CountMap, Counter, Dimension, Field, Flag, Measure};
use super::super::product::EventType;
use super::super::OTHER;
use super::dto::{CountMapDto, DimensionDto, EventDto, FlagDto, MeasureDto, PropertyDto};
use crate::domain::values::Identifier;

/// Most bounds a measure's histogram may have; each is a column of the daily tables.
const MAX_BUCKETS: usize = 32;

pub(super) fn event_of(at: &str, dto: EventDto) -> Result<EventType, Invalid> {
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

pub(super) fn dimension_of(at: &str, dto: DimensionDto) -> Result<Dimension, Invalid> {
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

pub(super) fn measure_of(at: &str, dto: MeasureDto) -> Result<Measure, Invalid> {
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

pub(super) fn flag_of(at: &str, dto: FlagDto) -> Result<Flag, Invalid> {
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

pub(super) fn count_map_of(
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

pub(super) fn identifier(at: &str, text: &str, what: &str) -> Result<(), Invalid> {
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
