use serde_json::json;

use super::*;

fn with(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::load(Some(CatalogFile {
        name: "catalog.toml",
        text,
    }))
}

fn refusal(text: &str) -> String {
    with(text).expect_err("the file is refused").to_string()
}

const FIFTH: &str = r#"
[products.kiln]
format = "indexpilot_telemetry"
key = "required"
cadence = "daily"
retention_days = 90

[products.kiln.dimensions]
glaze = { allow = ["matte", "gloss"] }

[products.kiln.counters]
firings = { max = 50 }

[products.kiln.measures]
peak_temperature = { buckets = [900, 1100, 1300] }
"#;

#[test]
fn the_four_shipped_declarations_load_with_their_formats() {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");

    let shipped: Vec<(&str, Format, KeyPolicy)> = catalog
        .products()
        .iter()
        .map(|product| (product.name(), product.format(), product.key()))
        .collect();
    assert_eq!(
        shipped,
        vec![
            ("franklinwh", Format::PosthogCapture, KeyPolicy::Required),
            (
                "indexpilot",
                Format::IndexpilotTelemetry,
                KeyPolicy::Required
            ),
            (
                "printernizer",
                Format::PrinternizerReport,
                KeyPolicy::Required
            ),
            ("stories", Format::EventBatch, KeyPolicy::None),
        ]
    );
}

#[test]
fn printernizers_declaration_holds_the_rules_that_were_compiled_in() {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    let report = catalog.printernizer();

    let values = |list: &AllowList| list.0.clone();
    assert_eq!(report.product(), "printernizer");
    assert_eq!(values(&report.platform), ["linux", "windows", "darwin"]);
    assert_eq!(
        values(&report.deployment_mode),
        ["homeassistant", "docker", "pi", "standalone"]
    );
    assert_eq!(
        values(&report.printer_type),
        ["bambu_lab", "prusa_core", "octoprint", "unknown"]
    );
    let ceilings = [
        report.printer_count,
        report.job_count,
        report.file_count,
        report.upload_count,
        report.uptime_hours,
    ]
    .map(|counter| counter.max());
    assert_eq!(ceilings, [1_000, 100_000, 1_000_000, 100_000, 31 * 24]);
    assert_eq!(report.feature_usage, 32);
    assert_eq!(
        (
            report.printer_type_counts.max_entries(),
            report.printer_type_counts.max()
        ),
        (32, 1_000)
    );
    assert_eq!(
        (
            report.error_summary.max_entries(),
            report.error_summary.max()
        ),
        (32, 1_000_000)
    );
}

#[test]
fn an_allow_list_folds_unlisted_values_to_other() {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    let platform = &catalog.printernizer().platform;

    assert_eq!(platform.fold("linux"), "linux");
    assert_eq!(platform.fold("haiku"), OTHER);
}

#[test]
fn an_operators_file_adds_a_product() {
    let catalog = with(FIFTH).expect("the file loads");

    let kiln = catalog.product("kiln").expect("kiln is declared");
    assert_eq!(catalog.products().len(), 5);
    assert_eq!(kiln.format(), Format::IndexpilotTelemetry);
    assert_eq!(
        serde_json::to_value(kiln).unwrap(),
        json!({
            "name": "kiln",
            "format": "indexpilot_telemetry",
            "key": "required",
            "cadence": "daily",
            "retention_days": 90,
            "dimensions": {"glaze": {"allow": ["matte", "gloss"]}},
            "counters": {"firings": {"max": 50}},
            "measures": {"peak_temperature": {"buckets": [900.0, 1100.0, 1300.0]}},
            "flags": {},
            "count_maps": {},
            "events": {},
        })
    );
}

#[test]
fn a_product_of_the_same_name_replaces_the_built_in_one() {
    let catalog = with(
        r#"
[products.stories]
format = "event_batch"
key = "required"
cadence = "events"

[products.stories.events.app_opened.properties]
app_version = { kind = "dimension", rule = "version" }
"#,
    )
    .expect("the file loads");

    let stories = catalog.product("stories").expect("stories is declared");
    assert_eq!(catalog.products().len(), 4);
    assert_eq!(stories.key(), KeyPolicy::Required);
    assert_eq!(
        serde_json::to_value(stories).unwrap()["events"],
        json!({"app_opened": {"properties": {"app_version": {"kind": "dimension", "rule": "version"}}}})
    );
}

#[test]
fn event_properties_are_listed_with_their_kind() {
    let catalog = Catalog::load(None).expect("the built-in catalog loads");
    let stories = serde_json::to_value(catalog.product("stories").unwrap()).unwrap();

    let properties = &stories["events"]["transcription_completed"]["properties"];
    assert_eq!(properties["success"], json!({"kind": "flag"}));
    assert_eq!(properties["duration"]["kind"], "measure");
    assert_eq!(
        stories["events"]["recording_started"]["properties"]["source"],
        json!({"kind": "dimension", "allow": ["main", "widget"]})
    );
}

#[test]
fn an_empty_allow_list_is_refused_naming_the_file_and_the_path() {
    let message = refusal(
        r#"
[products.stories]
format = "event_batch"
key = "none"
cadence = "events"

[products.stories.events.recording_started.properties]
source = { kind = "dimension", allow = [] }
"#,
    );

    assert_eq!(
        message,
        "catalog.toml: products.stories.events.recording_started.properties.source: \
         an allow-list needs at least one value"
    );
}

#[test]
fn an_unknown_key_is_refused_naming_where_it_is() {
    let message = refusal(&FIFTH.replace("firings = { max = 50 }", "firings = { maxi = 50 }"));

    assert!(
        message.starts_with("catalog.toml: products.kiln.counters.firings"),
        "{message}"
    );
    assert!(message.contains("unknown field `maxi`"), "{message}");
}

#[test]
fn an_unknown_format_is_refused() {
    let message = refusal(&FIFTH.replace("indexpilot_telemetry", "carrier_pigeon"));

    assert!(
        message.starts_with("catalog.toml: products.kiln.format"),
        "{message}"
    );
}

#[test]
fn a_syntax_error_is_refused_naming_its_line() {
    let message = refusal("[products.kiln]\nformat = \n");

    assert!(message.starts_with("catalog.toml: line 2: "), "{message}");
}

#[test]
fn rules_that_cannot_hold_are_refused() {
    let cases = [
        (
            FIFTH.replace("[900, 1100, 1300]", "[900, 800]"),
            "products.kiln.measures.peak_temperature.buckets",
        ),
        (
            FIFTH.replace(r#"["matte", "gloss"]"#, r#"["matte", "Gloss"]"#),
            "products.kiln.dimensions.glaze.allow",
        ),
        (
            FIFTH.replace(r#"["matte", "gloss"]"#, r#"["matte", "other"]"#),
            "products.kiln.dimensions.glaze.allow",
        ),
        (
            FIFTH.replace(r#"{ allow = ["matte", "gloss"] }"#, "{}"),
            "products.kiln.dimensions.glaze",
        ),
        (
            FIFTH.replace("cadence = \"daily\"", "cadence = \"weekly\""),
            "products.kiln.cadence",
        ),
        (
            FIFTH.replace("retention_days = 90", "retention_days = 0"),
            "products.kiln.retention_days",
        ),
        (
            format!("{FIFTH}\n[products.kiln.count_maps]\nby_glaze = {{ keys = \"colour\", max_entries = 4, max = 10 }}\n"),
            "products.kiln.count_maps.by_glaze.keys",
        ),
        (
            format!("{FIFTH}\n[products.kiln.flags]\nglaze = {{}}\n"),
            "products.kiln.flags.glaze",
        ),
        (
            FIFTH.replace("[products.kiln]", "[products.Kiln]").replace("products.kiln.", "products.Kiln."),
            "products.Kiln",
        ),
    ];

    for (text, path) in cases {
        let message = refusal(&text);
        assert!(
            message.starts_with(&format!("catalog.toml: {path}: ")),
            "{path}: {message}"
        );
    }
}

#[test]
fn printernizer_cannot_lose_what_its_report_adapter_reads() {
    let shipped = include_str!("../../../catalog/printernizer.toml");
    let cases = [
        (
            shipped.replace(
                "format = \"printernizer_report\"",
                "format = \"event_batch\"",
            ),
            "products.printernizer.cadence",
        ),
        (
            shipped.replace("job_count = { max = 100_000 }\n", ""),
            "products.printernizer.counters.job_count",
        ),
        (
            shipped.replace(
                "job_count = { max = 100_000 }",
                "job_count = { max = 10_000_000_000 }",
            ),
            "products.printernizer.counters.job_count.max",
        ),
        (
            shipped.replace(
                "[products.printernizer.counters]",
                "[products.printernizer.counters]\nspools = { max = 9 }",
            ),
            "products.printernizer.counters.spools",
        ),
    ];

    for (text, path) in cases {
        let message = refusal(&text);
        assert!(
            message.starts_with(&format!("catalog.toml: {path}: ")),
            "{path}: {message}"
        );
    }
}

#[test]
fn an_operator_may_change_printernizers_allow_lists() {
    let shipped = include_str!("../../../catalog/printernizer.toml");
    let text = shipped.replace(r#""darwin"]"#, r#""darwin", "freebsd"]"#);

    let catalog = with(&text).expect("the file loads");

    assert_eq!(catalog.printernizer().platform.fold("freebsd"), "freebsd");
}

#[test]
fn stories_declares_its_success_and_crash_free_rates() {
    let catalog = Catalog::load(None).unwrap();
    let stories = catalog.product("stories").unwrap();

    assert_eq!(
        serde_json::to_value(stories.rate("transcription_success")).unwrap(),
        json!({"numerator": "transcription_completed.success",
               "denominator": ["transcription_completed", "transcription_failed"]})
    );
    assert_eq!(
        serde_json::to_value(stories.rate("crash_free")).unwrap(),
        json!({"installations_without": "crash"})
    );
}

const EVENTS: &str = r#"
[products.notes]
format = "event_batch"
key = "none"
cadence = "events"

[products.notes.events.saved.properties]
pinned = { kind = "flag" }
words = { kind = "counter", max = 100000 }
"#;

#[test]
fn a_rate_naming_an_undeclared_event_is_refused_naming_where_it_is() {
    let message = refusal(&format!(
        "{EVENTS}\n[products.notes.rates.saved_ok]\nnumerator = \"saved.pinned\"\ndenominator = [\"deleted\"]\n"
    ));

    assert_eq!(
        message,
        "catalog.toml: products.notes.rates.saved_ok.denominator: \
         `deleted` is not an event type of this product"
    );
}

#[test]
fn a_rate_whose_numerator_is_not_a_flag_or_that_mixes_both_forms_is_refused() {
    let counter = refusal(&format!(
        "{EVENTS}\n[products.notes.rates.r]\nnumerator = \"saved.words\"\ndenominator = [\"saved\"]\n"
    ));
    let mixed = refusal(&format!(
        "{EVENTS}\n[products.notes.rates.r]\nnumerator = \"saved\"\ninstallations_without = \"saved\"\n"
    ));

    assert!(
        counter.ends_with("`saved.words` is not a flag (without entries) of this product"),
        "{counter}"
    );
    assert!(
        mixed.ends_with("`numerator` and `denominator`, or `installations_without` alone"),
        "{mixed}"
    );
}

#[test]
fn a_product_that_sends_reports_declares_no_rate() {
    let daily = r#"
[products.pilot]
format = "indexpilot_telemetry"
key = "required"
cadence = "daily"

[products.pilot.counters]
runs = { max = 10 }

[products.pilot.rates.ok]
numerator = "runs"
denominator = ["runs"]
"#;
    assert_eq!(
        refusal(daily),
        "catalog.toml: products.pilot.rates: a rate divides events: a product that sends reports \
         declares none"
    );
}
