use serde_json::json;

use super::*;
use crate::domain::activity::{ClientId, Merge};
use crate::domain::adapters::body::{event_day, Fingerprint};
use crate::domain::adapters::fold::{Folder, Scope};
use crate::domain::Field;

/// Folds one value of a shipped product's own field into a fresh row.
fn fold_field(product: &'static Product, name: &str, value: serde_json::Value) -> Folded {
    let installation = ClientId::parse("installation_1").unwrap();
    let mut folder = Folder::default();
    folder.row(Some((&installation, day(10))));
    let field: &Field = product.field(name).unwrap();
    let text = value.to_string();
    let value = crate::domain::adapters::json::parse(text.as_bytes()).unwrap();
    folder.field(Scope::Product(product), name, field, &value);
    folder.finish(product, Merge::Add, None).unwrap()
}

#[test]
fn count_map_keys_named_by_a_dimension_fold_through_its_allow_list() {
    let counts_by_type = json!({"bambu_lab": 2, "Prusa_Core": 1, "makerbot": 3});

    let folded = fold_field(
        product("printernizer"),
        "printer_type_counts",
        counts_by_type,
    );

    assert_eq!(
        only_row(&folded),
        &counts(&[
            ("map/printer_type_counts/bambu_lab", 2.0),
            ("map/printer_type_counts/prusa_core", 1.0),
            ("map/printer_type_counts/other", 3.0),
        ])
    );
    assert_eq!(folded.others, 1);
}

#[test]
fn a_flag_set_sent_as_an_object_counts_the_entries_that_are_on() {
    let features = json!({"library_enabled": true, "timelapse_enabled": false});

    let folded = fold_field(product("printernizer"), "feature_usage", features);

    assert_eq!(
        only_row(&folded),
        &counts(&[("flag/feature_usage/library_enabled", 1.0)])
    );
}

#[test]
fn a_country_is_stored_uppercased() {
    let folded = fold_field(product("printernizer"), "country", json!("de"));

    assert_eq!(only_row(&folded), &counts(&[("dim/country/DE", 1.0)]));
}

#[test]
fn an_event_day_is_its_utc_date_within_thirty_days_back_and_ten_minutes_ahead() {
    assert_eq!(event_day("2025-12-10T01:30:00+02:00", now()), Ok(day(9)));
    assert_eq!(
        event_day("2025-11-10T12:00:00Z", now()),
        Ok(day(10) - chrono::Days::new(30))
    );
    assert_eq!(event_day("2025-12-10T12:10:00Z", now()), Ok(day(10)));
    assert!(event_day("2025-11-10T11:59:59Z", now()).is_err());
    assert!(event_day("2025-12-10T12:10:01Z", now()).is_err());
}

#[test]
fn a_fingerprint_tells_products_and_pieces_apart_but_not_the_order_of_members() {
    let fingerprint = |product: &str, pieces: &[serde_json::Value]| {
        let mut fingerprint = Fingerprint::of(product);
        for piece in pieces {
            fingerprint.add(piece);
        }
        fingerprint.finish()
    };
    let content = json!({"a": 1, "b": [1, 2]});
    let reordered: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2], "a": 1}"#).unwrap();

    assert_eq!(
        fingerprint("stories", std::slice::from_ref(&content)),
        fingerprint("stories", &[reordered])
    );
    assert_ne!(
        fingerprint("stories", std::slice::from_ref(&content)),
        fingerprint("franklinwh", &[content])
    );
    assert_ne!(
        fingerprint("stories", &[json!(1), json!(2)]),
        fingerprint("stories", &[json!(12)])
    );
}
