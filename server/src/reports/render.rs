//! A report as an e-mail: its subject, an HTML body and the same in plain text. Every value a
//! client sent (versions, feature names) is escaped in the HTML. Each part is a list of
//! sections, a heading and rows of cells, by its kind: a report product's (`/stats/*`'s
//! figures) or another product's in its declared terms.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::html::escape;

use super::{DeclaredPart, InstallationCounts, Kind, Part, ProductReport, Report};
use crate::read::figures::TrendDay;
use crate::read::series::MeasureTotal;

/// A heading and its rows of cells.
type Section = (String, Vec<Vec<String>>);

/// A product's name as a title: `printernizer` → `Printernizer`.
fn title(product: &str) -> String {
    let mut chars = product.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn kind(report: &Report) -> (&'static str, &'static str) {
    match report.period.kind {
        Kind::Weekly => ("Weekly", "week"),
        Kind::Monthly => ("Monthly", "month"),
    }
}

/// A change in percent; none without a number to compare with (`/stats/*` says 0 there).
fn change(before: i64, percent: f64) -> String {
    if before == 0 {
        "no change to compare".to_owned()
    } else {
        format!("{percent:+.1}%")
    }
}

pub fn subject(report: &Report) -> String {
    let products: Vec<String> = report.products.iter().map(|p| title(p.product())).collect();
    format!(
        "{} {} report, {} to {}",
        products.join(", "),
        kind(report).0.to_lowercase(),
        report.period.from,
        report.period.to
    )
}

/// The trend points a report lists: every day of a week; every seventh day of a month,
/// counted back from its end.
fn trend_points(report: &Report, part: &ProductReport) -> Vec<TrendDay> {
    let step = match report.period.kind {
        Kind::Weekly => 1,
        Kind::Monthly => 7,
    };
    let mut points: Vec<TrendDay> = part.trend.iter().rev().step_by(step).cloned().collect();
    points.reverse();
    points
}

/// The lines of one product's part. Both renderings use them, so the HTML and the text say
/// the same.
fn sections(report: &Report, part: &Part) -> Vec<Section> {
    match part {
        Part::Reports(part) => report_sections(report, part),
        Part::Declared(part) => declared_sections(report, part),
    }
}

fn installations(noun: &str, i: &InstallationCounts) -> Section {
    (
        "Installations".to_owned(),
        vec![
            vec![
                "Active (7 days)".into(),
                format!(
                    "{} ({} a {noun} before, {})",
                    i.active_7d,
                    i.active_before,
                    change(i.active_before, i.active_change_percent)
                ),
            ],
            vec!["Active (30 days)".into(), i.active_30d.to_string()],
            vec!["Known".into(), i.known.to_string()],
            vec![format!("New this {noun}"), i.new.to_string()],
        ],
    )
}

/// Names and their numbers, one row each.
fn counts<'a>(heading: String, counts: impl IntoIterator<Item = (&'a String, &'a i64)>) -> Section {
    let rows = counts
        .into_iter()
        .map(|(name, n)| vec![name.clone(), n.to_string()])
        .collect();
    (heading, rows)
}

fn outcomes(noun: &str, outcomes: &BTreeMap<String, i64>) -> Section {
    counts(format!("Ingest outcomes this {noun}"), outcomes)
}

/// A report product's part: the figures of `/stats/*`.
fn report_sections(report: &Report, part: &ProductReport) -> Vec<Section> {
    let noun = kind(report).1;
    let mut sections = vec![installations(noun, &part.installations)];
    let v = &part.versions;
    sections.push((
        format!(
            "Versions: {} in use, latest {} on {:.1}%",
            v.total_versions,
            v.latest_version.as_deref().unwrap_or("none"),
            v.adoption_rate_latest
        ),
        v.versions
            .iter()
            .map(|s| {
                vec![
                    s.version.clone(),
                    s.count.to_string(),
                    format!("{:.1}%", s.percentage),
                ]
            })
            .collect(),
    ));
    sections.push((
        format!("Countries: {}", part.geography.total_countries),
        part.geography
            .countries
            .iter()
            .map(|c| {
                vec![
                    format!("{} ({})", c.name, c.code),
                    c.count.to_string(),
                    format!("{:.1}%", c.percentage),
                ]
            })
            .collect(),
    ));
    sections.push(counts(
        format!(
            "Printers: {} in all, {:.1} per installation",
            part.printers.total_printers, part.printers.average_per_installation
        ),
        &part.printers.types,
    ));
    sections.push((
        "Features".to_owned(),
        part.features
            .features
            .iter()
            .map(|f| {
                vec![
                    f.feature.clone(),
                    format!("{} of {}", f.enabled, f.total_reporting),
                    format!("{:.1}%", f.enabled_percent),
                ]
            })
            .collect(),
    ));
    let e = &part.errors;
    sections.push((
        "Errors".to_owned(),
        vec![
            vec![
                "Last 7 days".into(),
                format!(
                    "{} (7 days before: {}, {})",
                    e.this_week_errors,
                    e.last_week_errors,
                    change(e.last_week_errors, e.error_change_percent)
                ),
            ],
            vec![
                "Last 30 days".into(),
                format!(
                    "{} in {} installations",
                    e.total_errors, e.installations_with_errors
                ),
            ],
        ],
    ));
    sections.push(outcomes(noun, &part.outcomes));
    sections.push((
        "Anomalies".to_owned(),
        part.anomalies
            .iter()
            .map(|a| {
                let (severity, kind) = (a.severity.as_str(), a.kind.as_str());
                vec![severity.to_owned(), kind.to_owned(), a.message.clone()]
            })
            .collect(),
    ));
    sections.push((
        "Active installations (7 days) by day".to_owned(),
        trend_points(report, part)
            .into_iter()
            .map(|p| {
                let date = p.date.to_string();
                vec![date, p.active.to_string(), format!("{} known", p.total)]
            })
            .collect(),
    ));
    sections
}

/// Another product's part: each thing its declaration names, by its name, over the period.
/// Sections of kinds it does not declare are left out.
fn declared_sections(report: &Report, part: &DeclaredPart) -> Vec<Section> {
    let noun = kind(report).1;
    let mut sections = vec![installations(noun, &part.installations)];
    if !part.rates.is_empty() {
        let rows = part
            .rates
            .iter()
            .map(|(name, rate)| {
                let value =
                    rate.map_or_else(|| "no value".to_owned(), |r| format!("{:.1}%", 100.0 * r));
                vec![name.clone(), value]
            })
            .collect();
        sections.push((format!("Rates this {noun}"), rows));
    }
    if !part.events.is_empty() {
        sections.push(counts(format!("Events this {noun}"), &part.events));
    }
    if !part.counters.is_empty() {
        sections.push(counts(format!("Counters this {noun}"), &part.counters));
    }
    if !part.measures.is_empty() {
        let rows = part
            .measures
            .iter()
            .map(|(path, measure)| measure_row(path, measure))
            .collect();
        sections.push((format!("Measures this {noun}"), rows));
    }
    if !part.flags.is_empty() {
        sections.push(counts(format!("Flags on this {noun}"), &part.flags));
    }
    for (path, values) in &part.values {
        let values = values.iter().map(|(value, n)| (value, n));
        sections.push(counts(format!("{path} this {noun}"), values));
    }
    sections.push(outcomes(noun, &part.outcomes));
    sections
}

/// A measure's count, mean and quantiles (bucket bounds: "at most").
fn measure_row(path: &str, m: &MeasureTotal) -> Vec<String> {
    let number = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    vec![
        path.to_owned(),
        format!("{} values", m.count),
        format!("mean {}", number(m.mean)),
        format!("p50 <= {}", number(m.p50)),
        format!("p90 <= {}", number(m.p90)),
    ]
}

fn as_of(part: &Part) -> String {
    part.as_of().map_or_else(
        || "no data yet".to_owned(),
        |day| format!("figures as of {day}"),
    )
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", subject(report));
    for part in &report.products {
        let _ = writeln!(out, "== {} ({}) ==\n", title(part.product()), as_of(part));
        for (heading, rows) in sections(report, part) {
            let _ = writeln!(out, "{heading}");
            if rows.is_empty() {
                let _ = writeln!(out, "  none");
            }
            for row in rows {
                let _ = writeln!(out, "  {}", row.join("  "));
            }
            out.push('\n');
        }
    }
    if let Some(url) = &report.dashboard {
        let _ = writeln!(out, "Dashboard: {url}");
    }
    out
}

pub fn html(report: &Report) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif;color:#222;max-width:720px\">",
    );
    let _ = write!(out, "<h1>{}</h1>", escape(&subject(report)));
    for part in &report.products {
        let _ = write!(
            out,
            "<h2>{} <small style=\"color:#666\">({})</small></h2>",
            escape(&title(part.product())),
            escape(&as_of(part))
        );
        for (heading, rows) in sections(report, part) {
            let _ = write!(out, "<h3>{}</h3>", escape(&heading));
            if rows.is_empty() {
                out.push_str("<p>none</p>");
                continue;
            }
            out.push_str("<table style=\"border-collapse:collapse\">");
            for row in rows {
                out.push_str("<tr>");
                for cell in row {
                    let _ = write!(
                        out,
                        "<td style=\"padding:2px 12px 2px 0\">{}</td>",
                        escape(&cell)
                    );
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        }
    }
    if let Some(url) = &report.dashboard {
        let url = escape(url);
        let _ = write!(out, "<p><a href=\"{url}\">Open the dashboard</a></p>");
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_name_becomes_a_title() {
        assert_eq!(title("printernizer"), "Printernizer");
        assert_eq!(title(""), "");
    }
}
