//! The one folding step every adapter shares: a declared field's JSON value checked against its
//! kind and added to the row it belongs to. Adapters only find the values in their format
//! (reading them with `body.rs` and `parts.rs`) and say which row they belong to.
//!
//! Event and telemetry formats are streams a client cannot mend: a value off its rule is
//! reduced to what the rule admits or stored as `other` (`ValueRule::reduce`), an event that
//! cannot be used is dropped whole, and each is counted; only what makes the whole request
//! unusable is an error (`Folder::error`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::json::Json;
use crate::domain::activity::{key, ClientId, Counts, DayRow, Folded, Merge, Unusable};
use crate::domain::{
    AllowList, CountMap, Dimension, EventType, Field, FieldError, Flag, Identifier, Measure,
    Product, Rejected, Ruled, OTHER,
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

/// The rows of one request being folded, what was set aside, and every error found so far.
#[derive(Default)]
pub(super) struct Folder {
    rows: Vec<DayRow>,
    /// The installation's day values are added to; `None` once either was refused (the
    /// request is rejected anyway).
    row: Option<(ClientId, NaiveDate)>,
    /// Where that day is in `rows`, once something was added to it.
    at: Option<usize>,
    normalised: u64,
    others: u64,
    dropped: u64,
    events_rejected: BTreeMap<Unusable, u64>,
    fields_rejected: u64,
    /// What makes the whole request unusable: a 4xx, nothing stored.
    errors: Vec<FieldError>,
}

impl Folder {
    /// Values from here on belong to this installation's day.
    pub(super) fn row(&mut self, at: Option<(&ClientId, NaiveDate)>) {
        self.row = at.map(|(installation, day)| (installation.clone(), day));
        self.at = None;
    }

    /// One event: of a declared type, counted in the current row with its declared
    /// properties, each undeclared one dropped; of an undeclared type, dropped whole; with a
    /// property that cannot be used, rejected whole. The accepted properties in the order
    /// given, for a fingerprint, or `None` if the event was dropped.
    pub(super) fn event<'v>(
        &mut self,
        product: &Product,
        event_type: &str,
        properties: impl IntoIterator<Item = (&'v str, &'v Json<'v>)>,
    ) -> Option<Vec<(&'v str, &'v Json<'v>)>> {
        let Some(declared) = product.event(event_type) else {
            self.drop(1);
            return None;
        };
        let mut staged = Staged::default();
        staged.add(key::event(event_type), 1.0);
        let mut accepted = Vec::new();
        let mut undeclared = 0;
        for (name, value) in properties {
            let Some(field) = declared.property(name) else {
                undeclared += 1;
                continue;
            };
            let path = key::property(event_type, name);
            if let Err(why) = staged.value(Scope::Event(declared), &path, field, value) {
                self.reject(why);
                return None;
            }
            accepted.push((name, value));
        }
        self.drop(undeclared);
        self.commit(staged);
        Some(accepted)
    }

    /// A declared field of a daily report, added under `path`; a value that cannot be used
    /// drops the field alone.
    pub(super) fn field(&mut self, scope: Scope<'_>, path: &str, field: &Field, value: &Json<'_>) {
        let mut staged = Staged::default();
        match staged.value(scope, path, field, value) {
            Ok(()) => self.commit(staged),
            Err(_) => self.fields_rejected += 1,
        }
    }

    /// An event that cannot be used: dropped whole, counted by why.
    pub(super) fn reject(&mut self, why: Unusable) {
        *self.events_rejected.entry(why).or_default() += 1;
    }

    /// Fields, properties or events the catalog does not declare.
    pub(super) fn drop(&mut self, count: u64) {
        self.dropped += count;
    }

    /// Something that makes the whole request unusable.
    pub(super) fn error(&mut self, loc: &[&str], msg: impl Into<String>, kind: &str) {
        self.errors.push(FieldError::new(loc, msg, kind));
    }

    /// The rows, or every error found.
    pub(super) fn finish(
        self,
        product: &'static Product,
        merge: Merge,
        fingerprint: Option<[u8; 32]>,
    ) -> Result<Folded, Rejected> {
        if !self.errors.is_empty() {
            return Err(Rejected::Invalid(self.errors));
        }
        Ok(Folded {
            product: product.name(),
            merge,
            rows: self.rows,
            report: None,
            fingerprint,
            dropped: self.dropped,
            others: self.others,
            normalised: self.normalised,
            events_rejected: self.events_rejected,
            fields_rejected: self.fields_rejected,
        })
    }

    fn commit(&mut self, staged: Staged) {
        self.normalised += staged.normalised;
        self.others += staged.others;
        for (key, amount) in staged.counts {
            self.add(key, amount);
        }
    }

    /// A row exists only once something is added to it: a request whose events were all
    /// dropped adds no row.
    fn add(&mut self, key: String, amount: f64) {
        let Some((installation, day)) = &self.row else {
            return;
        };
        let at = *self.at.get_or_insert_with(|| {
            match self
                .rows
                .iter()
                .position(|row| row.installation == *installation && row.day == *day)
            {
                Some(at) => at,
                None => {
                    self.rows.push(DayRow {
                        installation: installation.clone(),
                        day: *day,
                        counts: Counts::new(),
                    });
                    self.rows.len() - 1
                }
            }
        });
        *self.rows[at].counts.entry(key).or_default() += amount;
    }
}

/// What one event, or one field of a report, adds once all of it is known to be usable.
#[derive(Default)]
struct Staged {
    counts: Vec<(String, f64)>,
    normalised: u64,
    others: u64,
}

impl Staged {
    fn add(&mut self, key: String, amount: f64) {
        self.counts.push((key, amount));
    }

    /// A declared field's value, checked against its kind and added under `path`.
    fn value(
        &mut self,
        scope: Scope<'_>,
        path: &str,
        field: &Field,
        value: &Json<'_>,
    ) -> Result<(), Unusable> {
        match field {
            Field::Dimension(dimension) => {
                let folded = self.dimension(dimension, value);
                self.add(key::dimension(path, &folded), 1.0);
            }
            Field::Counter(counter) => {
                let count = count(value, counter.max())?;
                self.add(key::counter(path), count);
            }
            Field::Measure(measure) => self.measure(measure, path, value)?,
            Field::Flag(flag) => self.flag(*flag, path, value)?,
            Field::CountMap(map) => self.count_map(scope, map, path, value)?,
        }
        Ok(())
    }

    /// A string by its allow-list or its rule; anything else is `other`: a value never
    /// costs its event.
    fn dimension(&mut self, dimension: &Dimension, value: &Json<'_>) -> String {
        let Some(text) = value.as_str() else {
            return self.ruled(Ruled::Other);
        };
        match (dimension.allow_list(), dimension.rule()) {
            (Some(allow), _) => self.allowed(allow, text),
            (None, Some(rule)) => self.ruled(rule.reduce(text)),
            // The loader gives every dimension one of the two; never keep text unchecked.
            (None, None) => self.ruled(Ruled::Other),
        }
    }

    /// Allow-lists compare lowercased (`Linux` is `linux`); anything else is `other`.
    fn allowed(&mut self, allow: &AllowList, text: &str) -> String {
        let folded = allow.fold(&text.to_ascii_lowercase()).to_owned();
        if folded == OTHER {
            self.others += 1;
        }
        folded
    }

    fn ruled(&mut self, ruled: Ruled) -> String {
        match ruled {
            Ruled::Kept(value) => value,
            Ruled::Reduced(value) => {
                self.normalised += 1;
                value
            }
            Ruled::Other => {
                self.others += 1;
                OTHER.to_owned()
            }
        }
    }

    fn measure(&mut self, measure: &Measure, path: &str, value: &Json<'_>) -> Result<(), Unusable> {
        let number = value
            .as_f64()
            .filter(|number| number.is_finite())
            .ok_or(Unusable::Shape)?;
        let max = measure.max().unwrap_or(f64::MAX);
        if number < measure.min() || number > max {
            return Err(Unusable::Range);
        }
        self.add(key::measure_count(path), 1.0);
        self.add(key::measure_sum(path), number);
        self.add(key::measure_bucket(path, measure.bucket_of(number)), 1.0);
        Ok(())
    }

    fn flag(&mut self, flag: Flag, path: &str, value: &Json<'_>) -> Result<(), Unusable> {
        let Some(max_entries) = flag.max_entries() else {
            if value.as_bool().ok_or(Unusable::Shape)? {
                self.add(key::flag(path), 1.0);
            }
            return Ok(());
        };
        // A set: `{"name": true}`, or the list of the names that are on.
        let on: Vec<&str> = match value {
            Json::Array(list) if list.len() <= max_entries => list
                .iter()
                .map(|entry| entry.as_str().ok_or(Unusable::Shape))
                .collect::<Result<_, _>>()?,
            Json::Object(map) if map.len() <= max_entries => {
                let mut on = Vec::new();
                for (name, entry) in map.iter() {
                    if entry.as_bool().ok_or(Unusable::Shape)? {
                        on.push(name);
                    }
                }
                on
            }
            Json::Array(_) | Json::Object(_) => return Err(Unusable::Range),
            _ => return Err(Unusable::Shape),
        };
        let on: BTreeSet<String> = on
            .into_iter()
            .map(|name| self.ruled(Identifier::reduce(name)))
            .collect();
        for name in on {
            self.add(key::flag_entry(path, &name), 1.0);
        }
        Ok(())
    }

    fn count_map(
        &mut self,
        scope: Scope<'_>,
        map: &CountMap,
        path: &str,
        value: &Json<'_>,
    ) -> Result<(), Unusable> {
        let Json::Object(entries) = value else {
            return Err(Unusable::Shape);
        };
        if entries.len() > map.max_entries() {
            return Err(Unusable::Range);
        }
        let allow = map
            .keys()
            .and_then(|name| scope.field(name))
            .and_then(|field| match field {
                Field::Dimension(dimension) => dimension.allow_list(),
                _ => None,
            });
        for (name, count_sent) in entries.iter() {
            let count = count(count_sent, map.max())?;
            let entry = match allow {
                Some(allow) => self.allowed(allow, name),
                None => self.ruled(Identifier::reduce(name)),
            };
            self.add(key::count_map(path, &entry), count);
        }
        Ok(())
    }
}

/// An integer from 0 to `max`, as a count.
fn count(value: &Json<'_>, max: u64) -> Result<f64, Unusable> {
    match value.as_u64() {
        // Counts stay far below 2^53, where f64 is still exact.
        Some(count) if count <= max => Ok(count as f64),
        _ if value.is_number() => Err(Unusable::Range),
        _ => Err(Unusable::Shape),
    }
}
