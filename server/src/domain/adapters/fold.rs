//! The one folding step every adapter shares: a declared field's JSON value checked against its
//! kind and added to the row it belongs to, or listed as an error. Adapters only find the
//! values in their format (reading them with `body.rs`) and say which row they belong to.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::domain::activity::{key, ClientId, Counts, DayRow, Folded, Merge};
use crate::domain::{
    AllowList, CountMap, CountryCode, EventType, Field, FieldError, Flag, Identifier, Measure,
    Product, RejectedSubmission, ValueRule, Version, OTHER,
};

/// Where a field was declared, so that a count map can find the dimension its keys name.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    Product(&'a Product),
    Event(&'a EventType),
}

impl Scope<'_> {
    fn field(&self, name: &str) -> Option<&Field> {
        match self {
            Scope::Product(product) => product.field(name),
            Scope::Event(event) => event.property(name),
        }
    }
}

/// The rows of one request being folded, and every error found so far.
#[derive(Default)]
pub(super) struct Folder {
    rows: Vec<DayRow>,
    /// The installation's day values are added to; `None` once either was refused (the
    /// values are still checked, and the request is rejected anyway).
    row: Option<(ClientId, NaiveDate)>,
    others: u64,
    dropped: u64,
    errors: Vec<FieldError>,
}

impl Folder {
    /// Values from here on belong to this installation's day.
    pub(super) fn row(&mut self, at: Option<(&ClientId, NaiveDate)>) {
        self.row = at.map(|(installation, day)| (installation.clone(), day));
    }

    /// One event: of a declared type, counted in the current row with its declared
    /// properties (their locs under `loc`), each undeclared one dropped; of an undeclared
    /// type, dropped whole. The accepted properties, for a fingerprint, or `None` if dropped.
    pub(super) fn event<'v>(
        &mut self,
        product: &Product,
        event_type: &str,
        properties: impl IntoIterator<Item = (&'v str, &'v Value)>,
        loc: &[&str],
    ) -> Option<Map<String, Value>> {
        let Some(declared) = product.event(event_type) else {
            self.drop(1);
            return None;
        };
        self.add(key::event(event_type), 1.0);
        let mut accepted = Map::new();
        for (name, value) in properties {
            let Some(field) = declared.property(name) else {
                self.drop(1);
                continue;
            };
            let path = key::property(event_type, name);
            self.value(
                Scope::Event(declared),
                &path,
                field,
                value,
                &join(loc, &[name]),
            );
            accepted.insert(name.to_owned(), value.clone());
        }
        Some(accepted)
    }

    /// A value outside its allow-list (or past its rule) that was kept as `other`.
    pub(super) fn other(&mut self) {
        self.others += 1;
    }

    /// Fields, properties or events the catalog does not declare.
    pub(super) fn drop(&mut self, count: u64) {
        self.dropped += count;
    }

    pub(super) fn error(&mut self, loc: &[&str], msg: impl Into<String>, kind: &str) {
        self.errors.push(FieldError::new(loc, msg, kind));
    }

    /// A declared field's value, checked against its kind and added under `path`.
    pub(super) fn value(
        &mut self,
        scope: Scope<'_>,
        path: &str,
        field: &Field,
        value: &Value,
        loc: &[&str],
    ) {
        match field {
            Field::Dimension(dimension) => {
                let Some(text) = value.as_str() else {
                    return self.error(loc, "must be a string", "type_error");
                };
                let folded = match (dimension.allow_list(), dimension.rule()) {
                    (Some(allow), _) => Some(self.allowed(allow, text)),
                    (None, Some(rule)) => self.ruled(rule, text, loc),
                    (None, None) => None,
                };
                if let Some(folded) = folded {
                    self.add(key::dimension(path, &folded), 1.0);
                }
            }
            Field::Counter(counter) => {
                if let Some(count) = self.count(value, counter.max(), loc) {
                    self.add(key::counter(path), count);
                }
            }
            Field::Measure(measure) => self.measure(measure, path, value, loc),
            Field::Flag(flag) => self.flag(*flag, path, value, loc),
            Field::CountMap(map) => self.count_map(scope, map, path, value, loc),
        }
    }

    /// The rows, or every error found.
    pub(super) fn finish(
        self,
        product: &'static Product,
        merge: Merge,
        fingerprint: Option<[u8; 32]>,
    ) -> Result<Folded, RejectedSubmission> {
        if !self.errors.is_empty() {
            return Err(RejectedSubmission::Invalid(self.errors));
        }
        Ok(Folded {
            product: product.name(),
            merge,
            rows: self.rows,
            fingerprint,
            dropped: self.dropped,
            others: self.others,
        })
    }

    /// A row exists only once something is added to it: a request whose events were all
    /// dropped adds no row.
    fn add(&mut self, key: String, amount: f64) {
        let Some((installation, day)) = &self.row else {
            return;
        };
        let row = self
            .rows
            .iter_mut()
            .find(|row| row.installation == *installation && row.day == *day);
        match row {
            Some(row) => *row.counts.entry(key).or_default() += amount,
            None => self.rows.push(DayRow {
                installation: installation.clone(),
                day: *day,
                counts: Counts::from([(key, amount)]),
            }),
        }
    }

    /// Allow-lists compare lowercased (`Linux` is `linux`); anything else is `other`.
    fn allowed(&mut self, allow: &AllowList, text: &str) -> String {
        let folded = allow.fold(&text.to_ascii_lowercase()).to_owned();
        if folded == OTHER {
            self.other();
        }
        folded
    }

    fn ruled(&mut self, rule: ValueRule, text: &str, loc: &[&str]) -> Option<String> {
        let folded = match rule {
            ValueRule::Identifier => Identifier::parse(text).map(|id| id.as_str().to_owned()),
            ValueRule::Version => Version::parse(text).map(Version::into_string),
            ValueRule::Country => CountryCode::parse(text).map(|code| code.as_str().to_owned()),
        };
        if folded.is_none() {
            let (msg, kind) = match rule {
                ValueRule::Identifier => (IDENTIFIER_RULE.to_owned(), "identifier"),
                ValueRule::Version => (
                    format!(
                        "must be 1 to {} letters, digits or . - _ +",
                        Version::MAX_LEN
                    ),
                    "version",
                ),
                ValueRule::Country => (
                    "must be two letters (ISO 3166-1 alpha-2 or XX)".to_owned(),
                    "country",
                ),
            };
            self.error(loc, msg, kind);
        }
        folded
    }

    /// An integer from 0 to `max`, as a count.
    fn count(&mut self, value: &Value, max: u64, loc: &[&str]) -> Option<f64> {
        match value.as_u64() {
            // Counts stay far below 2^53, where f64 is still exact.
            Some(count) if count <= max => Some(count as f64),
            _ => {
                self.error(loc, format!("must be an integer from 0 to {max}"), "range");
                None
            }
        }
    }

    fn measure(&mut self, measure: &Measure, path: &str, value: &Value, loc: &[&str]) {
        let Some(number) = value.as_f64().filter(|number| number.is_finite()) else {
            return self.error(loc, "must be a number", "type_error");
        };
        let (min, max) = (measure.min(), measure.max().unwrap_or(f64::MAX));
        if number < min || number > max {
            let range = match measure.max() {
                Some(max) => format!("must be from {min} to {max}"),
                None => format!("must be at least {min}"),
            };
            return self.error(loc, range, "range");
        }
        self.add(key::measure_count(path), 1.0);
        self.add(key::measure_sum(path), number);
        self.add(key::measure_bucket(path, measure.bucket_of(number)), 1.0);
    }

    fn flag(&mut self, flag: Flag, path: &str, value: &Value, loc: &[&str]) {
        let Some(max_entries) = flag.max_entries() else {
            match value.as_bool() {
                Some(true) => self.add(key::flag(path), 1.0),
                Some(false) => {}
                None => self.error(loc, "must be true or false", "type_error"),
            }
            return;
        };
        // A set: `{"name": true}`, or the list of the names that are on.
        let mut on = BTreeSet::new();
        match value {
            Value::Array(list) if list.len() <= max_entries => {
                for (index, entry) in list.iter().enumerate() {
                    match entry.as_str().filter(|name| Identifier::is_valid(name)) {
                        Some(name) => {
                            on.insert(name);
                        }
                        None => {
                            let index = index.to_string();
                            self.error(&join(loc, &[&index]), IDENTIFIER_RULE, "identifier");
                        }
                    }
                }
            }
            Value::Object(map) if map.len() <= max_entries => {
                for (name, entry) in map {
                    if !Identifier::is_valid(name) {
                        self.error(loc, IDENTIFIER_RULE, "identifier");
                        continue;
                    }
                    match entry.as_bool() {
                        Some(true) => {
                            on.insert(name);
                        }
                        Some(false) => {}
                        None => {
                            self.error(&join(loc, &[name]), "must be true or false", "type_error")
                        }
                    }
                }
            }
            Value::Array(_) | Value::Object(_) => {
                self.error(loc, format!("at most {max_entries} entries"), "length");
            }
            _ => self.error(
                loc,
                "must be an object of true or false by identifier, or a list of identifiers",
                "type_error",
            ),
        }
        for name in on {
            self.add(key::flag_entry(path, name), 1.0);
        }
    }

    fn count_map(
        &mut self,
        scope: Scope<'_>,
        map: &CountMap,
        path: &str,
        value: &Value,
        loc: &[&str],
    ) {
        let Value::Object(entries) = value else {
            return self.error(
                loc,
                "must be an object of counts by identifier",
                "type_error",
            );
        };
        if entries.len() > map.max_entries() {
            let max_entries = map.max_entries();
            return self.error(loc, format!("at most {max_entries} entries"), "length");
        }
        let allow = map
            .keys()
            .and_then(|name| scope.field(name))
            .and_then(|field| match field {
                Field::Dimension(dimension) => dimension.allow_list(),
                _ => None,
            });
        for (name, count) in entries {
            // A key is named in a loc only when it is a plain identifier: a key that breaks
            // the rule may be exactly what must not travel (an address, a path).
            let valid = Identifier::is_valid(name);
            let at = if valid {
                join(loc, &[name])
            } else {
                loc.to_vec()
            };
            let entry = match allow {
                Some(allow) => Some(self.allowed(allow, name)),
                None if valid => Some(name.clone()),
                None => {
                    self.error(&at, IDENTIFIER_RULE, "identifier");
                    None
                }
            };
            let count = self.count(count, map.max(), &at);
            if let (Some(entry), Some(count)) = (entry, count) {
                self.add(key::count_map(path, &entry), count);
            }
        }
    }
}

const IDENTIFIER_RULE: &str = "must be a plain identifier (a-z, 0-9, _; at most 48 characters)";

/// `loc` followed by `more`.
pub(super) fn join<'a>(loc: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    loc.iter().chain(more).copied().collect()
}
