//! The batch statement that writes Printernizer's reports into `submissions`, registers their
//! installations and counts them for the summary, and the columns it binds.

use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::error::SqlState;

use crate::domain::activity::key::{self, Kind};
use crate::domain::activity::{DayRow, Folded};
use crate::domain::adapters::printernizer::{path, TOTAL_ERRORS};
use crate::domain::InstallationId;
use crate::store::StoreError;

// The pieces of the batch statements below (`concat!` takes literals, so they are macros).

/// The batch's rows, from one array per column: `$1`..`$19`.
macro_rules! batch_rows {
    () => {
        "SELECT * FROM UNNEST(
    $1::text[], $2::uuid[], $3::timestamptz[], $4::timestamptz[],
    $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[],
    $11::int[], $12::int[], $13::int[], $14::int[], $15::int[], $16::int[],
    $17::text[], $18::text[], $19::text[])
  AS t(product, installation_id, period_start, period_end,
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts, feature_usage, error_summary)"
    };
}

/// `received_at` is the database's time of the statement's transaction, never an instance's
/// clock: the rollup's watermark is read off the same clock and the writers' open
/// transactions (see `rollup::watermark`), so no report can commit behind it.
macro_rules! insert_reports {
    () => {
        "INSERT INTO submissions AS s (
    product, installation_id, period_start, period_end, received_at,
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts, feature_usage, error_summary)
SELECT product, installation_id, period_start, period_end, now(),
    app_version, python_version, platform, deployment_mode, country_code, first_seen,
    printer_count, job_count, file_count, upload_count, uptime_hours, total_errors,
    printer_type_counts::jsonb, feature_usage::jsonb, error_summary::jsonb
"
    };
}

/// A retry of a stored report overwrites it and keeps its `submission_id`.
macro_rules! or_overwrite {
    () => {
        "
ON CONFLICT (product, installation_id, period_start) DO UPDATE SET
    receipts = s.receipts + 1,
    period_end = EXCLUDED.period_end,
    received_at = EXCLUDED.received_at,
    app_version = EXCLUDED.app_version,
    python_version = EXCLUDED.python_version,
    platform = EXCLUDED.platform,
    deployment_mode = EXCLUDED.deployment_mode,
    country_code = EXCLUDED.country_code,
    first_seen = EXCLUDED.first_seen,
    printer_count = EXCLUDED.printer_count,
    job_count = EXCLUDED.job_count,
    file_count = EXCLUDED.file_count,
    upload_count = EXCLUDED.upload_count,
    uptime_hours = EXCLUDED.uptime_hours,
    total_errors = EXCLUDED.total_errors,
    printer_type_counts = EXCLUDED.printer_type_counts,
    feature_usage = EXCLUDED.feature_usage,
    error_summary = EXCLUDED.error_summary
RETURNING product, installation_id, period_start, submission_id, receipts = 1 AS inserted,
    received_at"
    };
}

/// Registers the installations of the reports of `$reports` that were new, in key order (as
/// every batch locks); returns the product of each installation registered.
macro_rules! register_new_reports_of {
    ($reports:literal) => {
        concat!(
            "
    INSERT INTO installations (product, installation_id)
    SELECT DISTINCT product, installation_id FROM ",
            $reports,
            " WHERE inserted
    ORDER BY installation_id, product
    ON CONFLICT DO NOTHING
    RETURNING product
"
        )
    };
}

/// Adds a row of the counts of this batch (the reports `written` stored anew, the installations
/// registered, counted by `$registered` per product `w.product`) to `submission_counts`, and
/// answers each report's key, id and whether it is new.
macro_rules! count_and_answer {
    ($registered:literal) => {
        concat!(
            ",
counted AS (
    INSERT INTO submission_counts (product, submissions, installations, latest_received_at)
    SELECT w.product, count(*) FILTER (WHERE w.inserted), ",
            $registered,
            ", max(w.received_at)
    FROM written w GROUP BY w.product
)
SELECT product, installation_id, period_start, submission_id, inserted FROM written"
        )
    };
}

/// One fixed-shape statement for any batch size: the arrays vary, the text does not, so it is
/// prepared once per connection (measured ~100x faster than one INSERT per row). The same
/// statement registers the installations it has not seen and adds to the summary's counts, so
/// they move exactly with the reports: the summary reads the counts alone.
///
/// Installations are registered first (in key order, as every batch locks). Those the
/// statement's snapshot does not find are inserted plainly: the registry's exclusion constraint
/// still checks each, without the speculative insertion of `ON CONFLICT` (about 1 µs of
/// PostgreSQL per fresh installation, README "Throughput"). An installation registered by a
/// concurrent batch (another instance's) after that snapshot fails the statement on the
/// constraint (or, if both entered it before either checked, in a deadlock), and the batch is
/// written again by `UPSERT_BATCH_CHECKED` (tested for the key). An
/// installation registered by this statement has no stored report (the registry holds exactly
/// the installations with one), so its reports are plain inserts too: the speculative insertion
/// of `ON CONFLICT` is left to the others. With fresh installations, the common case of a
/// burst, that is 1.2–1.7 µs of PostgreSQL per report. A new report of an installation found
/// registered registers it again, in case an erasure took it meanwhile (tested).
const UPSERT_BATCH: &str = concat!(
    "WITH t AS (",
    batch_rows!(),
    "),
registered AS (
    INSERT INTO installations (product, installation_id)
    SELECT DISTINCT product, installation_id FROM t
    WHERE NOT EXISTS (SELECT FROM installations i WHERE i.installation_id = t.installation_id)
    ORDER BY installation_id, product
    RETURNING product, installation_id
),
fresh AS (
",
    insert_reports!(),
    "FROM t JOIN registered USING (product, installation_id)
RETURNING product, installation_id, period_start, submission_id, true AS inserted, received_at
),
known AS (
",
    insert_reports!(),
    "FROM t WHERE NOT EXISTS (SELECT FROM registered r
    WHERE r.product = t.product AND r.installation_id = t.installation_id)",
    or_overwrite!(),
    "
),
-- A new report of an installation found registered: registered again if an erasure of the
-- installation committed meanwhile (this report waited on its rows and was then written anew).
reregistered AS (",
    register_new_reports_of!("known"),
    "),
written AS (SELECT * FROM fresh UNION ALL SELECT * FROM known)",
    count_and_answer!(
        "(SELECT count(*) FROM registered r WHERE r.product = w.product)
        + (SELECT count(*) FROM reregistered r WHERE r.product = w.product)"
    ),
);

/// The same batch with every report through `ON CONFLICT`, registering after, for what the
/// statement above cannot write: an installation registered by a concurrent batch after its
/// snapshot, or one the registry has lost although it still has reports (an erasure racing a
/// new report of it, see `delete_installation`), where its plain inserts fail on a key.
const UPSERT_BATCH_CHECKED: &str = concat!(
    "WITH written AS (",
    insert_reports!(),
    "FROM (",
    batch_rows!(),
    ") AS t",
    or_overwrite!(),
    "
),
registered AS (",
    register_new_reports_of!("written"),
    ")",
    count_and_answer!("(SELECT count(*) FROM registered r WHERE r.product = w.product)"),
);

/// A batch of reports in columns, the shape `UPSERT_BATCH` binds.
#[derive(Default)]
pub(in crate::store) struct Columns {
    product: Vec<&'static str>,
    installation_id: Vec<uuid::Uuid>,
    period_start: Vec<DateTime<Utc>>,
    period_end: Vec<DateTime<Utc>>,
    app_version: Vec<String>,
    python_version: Vec<Option<String>>,
    platform: Vec<String>,
    deployment_mode: Vec<String>,
    country_code: Vec<String>,
    first_seen: Vec<Option<DateTime<Utc>>>,
    printer_count: Vec<i32>,
    job_count: Vec<i32>,
    file_count: Vec<i32>,
    upload_count: Vec<i32>,
    uptime_hours: Vec<i32>,
    total_errors: Vec<i32>,
    printer_type_counts: Vec<String>,
    feature_usage: Vec<String>,
    error_summary: Vec<String>,
}

/// The identity of a stored report.
pub(in crate::store) type ReportKey = (&'static str, InstallationId, DateTime<Utc>);

/// A report as the batch statement binds it. Made by the handler: serializing its maps there
/// runs on every worker at once, while the writer's batch, which the database waits for
/// between two commits, only gathers rows.
pub struct PreparedReport {
    key: ReportKey,
    period_end: DateTime<Utc>,
    app_version: String,
    python_version: Option<String>,
    platform: String,
    deployment_mode: String,
    country_code: String,
    first_seen: Option<DateTime<Utc>>,
    counts: [i32; 6],
    printer_type_counts: String,
    feature_usage: String,
    error_summary: String,
}

impl PreparedReport {
    /// A folded report in the typed columns of `submissions`, each field read from the key the
    /// adapter keeps it under. `None` for what is not one report of one installation.
    pub fn of(folded: Folded) -> Option<Self> {
        let report = folded.report?;
        let [row] = <[DayRow; 1]>::try_from(folded.rows).ok()?;
        let installation = InstallationId::parse(row.installation.as_str())?;
        let mut fields = Fields::default();
        for (key, &count) in &row.counts {
            fields.read(key, count);
        }
        Some(Self {
            key: (folded.product, installation, report.start),
            period_end: report.end,
            app_version: fields.app_version?.to_owned(),
            python_version: fields.python_version.map(str::to_owned),
            platform: fields.platform?.to_owned(),
            deployment_mode: fields.deployment_mode?.to_owned(),
            country_code: fields.country?.to_owned(),
            first_seen: report.first_seen,
            counts: fields.counts,
            printer_type_counts: json(&Entries(&fields.printer_types)),
            feature_usage: json(&Entries(&fields.features)),
            error_summary: json(&Entries(&fields.errors)),
        })
    }

    pub(in crate::store) fn key(&self) -> ReportKey {
        self.key
    }
}

impl Columns {
    pub(in crate::store) fn with_capacity(n: usize) -> Self {
        Self {
            product: Vec::with_capacity(n),
            installation_id: Vec::with_capacity(n),
            period_start: Vec::with_capacity(n),
            period_end: Vec::with_capacity(n),
            app_version: Vec::with_capacity(n),
            python_version: Vec::with_capacity(n),
            platform: Vec::with_capacity(n),
            deployment_mode: Vec::with_capacity(n),
            country_code: Vec::with_capacity(n),
            first_seen: Vec::with_capacity(n),
            printer_count: Vec::with_capacity(n),
            job_count: Vec::with_capacity(n),
            file_count: Vec::with_capacity(n),
            upload_count: Vec::with_capacity(n),
            uptime_hours: Vec::with_capacity(n),
            total_errors: Vec::with_capacity(n),
            printer_type_counts: Vec::with_capacity(n),
            feature_usage: Vec::with_capacity(n),
            error_summary: Vec::with_capacity(n),
        }
    }

    pub(in crate::store) fn push(&mut self, row: PreparedReport) {
        let (product, installation_id, period_start) = row.key;
        let [printers, jobs, files, uploads, uptime_hours, errors] = row.counts;
        self.product.push(product);
        self.installation_id.push(installation_id.as_uuid());
        self.period_start.push(period_start);
        self.period_end.push(row.period_end);
        self.app_version.push(row.app_version);
        self.python_version.push(row.python_version);
        self.platform.push(row.platform);
        self.deployment_mode.push(row.deployment_mode);
        self.country_code.push(row.country_code);
        self.first_seen.push(row.first_seen);
        self.printer_count.push(printers);
        self.job_count.push(jobs);
        self.file_count.push(files);
        self.upload_count.push(uploads);
        self.uptime_hours.push(uptime_hours);
        self.total_errors.push(errors);
        self.printer_type_counts.push(row.printer_type_counts);
        self.feature_usage.push(row.feature_usage);
        self.error_summary.push(row.error_summary);
    }

    /// Writes the reports `rows` of the batch in one statement, adding to the summary's counts;
    /// returns each report's key, id and whether it is new.
    pub(in crate::store) async fn upsert(
        &self,
        client: &deadpool_postgres::Client,
        rows: Range<usize>,
    ) -> Result<Vec<(ReportKey, i64, bool)>, StoreError> {
        let product = &self.product[rows.clone()];
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 19] = [
            &product,
            &&self.installation_id[rows.clone()],
            &&self.period_start[rows.clone()],
            &&self.period_end[rows.clone()],
            &&self.app_version[rows.clone()],
            &&self.python_version[rows.clone()],
            &&self.platform[rows.clone()],
            &&self.deployment_mode[rows.clone()],
            &&self.country_code[rows.clone()],
            &&self.first_seen[rows.clone()],
            &&self.printer_count[rows.clone()],
            &&self.job_count[rows.clone()],
            &&self.file_count[rows.clone()],
            &&self.upload_count[rows.clone()],
            &&self.uptime_hours[rows.clone()],
            &&self.total_errors[rows.clone()],
            &&self.printer_type_counts[rows.clone()],
            &&self.feature_usage[rows.clone()],
            &&self.error_summary[rows],
        ];
        let statement = client.prepare_cached(UPSERT_BATCH).await?;
        let returned = match client.query(&statement, &params).await {
            // A concurrent batch registered one of the installations after this statement's
            // snapshot: it committed first (the key), or both inserted its entry before either
            // checked, and the deadlock detector chose this statement.
            Err(error)
                if error.code() == Some(&SqlState::EXCLUSION_VIOLATION)
                    || error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) =>
            {
                tracing::info!(
                    "a concurrent batch registered an installation; checking every report"
                );
                checked(client, &params).await?
            }
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::warn!(
                    "an installation with reports was not registered; checking every report"
                );
                checked(client, &params).await?
            }
            outcome => outcome?,
        };
        returned
            .iter()
            .map(|row| {
                let name: &str = row.try_get(0)?;
                let product = product
                    .iter()
                    .copied()
                    .find(|known| *known == name)
                    .unwrap_or("");
                let installation: uuid::Uuid = row.try_get(1)?;
                let key = (product, installation.into(), row.try_get(2)?);
                Ok((key, row.try_get(3)?, row.try_get(4)?))
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(StoreError::from)
    }
}

/// The batch again through `UPSERT_BATCH_CHECKED`.
async fn checked(
    client: &deadpool_postgres::Client,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let statement = client.prepare_cached(UPSERT_BATCH_CHECKED).await?;
    Ok(client.query(&statement, params).await?)
}

/// A folded report's fields by the columns they go to.
#[derive(Default)]
struct Fields<'a> {
    app_version: Option<&'a str>,
    python_version: Option<&'a str>,
    platform: Option<&'a str>,
    deployment_mode: Option<&'a str>,
    country: Option<&'a str>,
    /// printers, jobs, files, uploads, uptime hours, errors
    counts: [i32; 6],
    printer_types: Vec<(&'a str, i32)>,
    features: Vec<(&'a str, bool)>,
    errors: Vec<(&'a str, i32)>,
}

impl<'a> Fields<'a> {
    fn read(&mut self, key: &'a str, count: f64) {
        let Some((kind, at, entry)) = key::parse(key) else {
            return;
        };
        match (kind, entry) {
            (Kind::Dimension, Some(value)) => match at {
                path::APP_VERSION => self.app_version = Some(value),
                path::PYTHON_VERSION => self.python_version = Some(value),
                path::PLATFORM => self.platform = Some(value),
                path::DEPLOYMENT_MODE => self.deployment_mode = Some(value),
                path::COUNTRY => self.country = Some(value),
                _ => {}
            },
            (Kind::Counter, None) => {
                let column = match at {
                    path::PRINTER_COUNT => 0,
                    path::JOB_COUNT => 1,
                    path::FILE_COUNT => 2,
                    path::UPLOAD_COUNT => 3,
                    path::UPTIME_HOURS => 4,
                    _ => return,
                };
                self.counts[column] = int(count);
            }
            (Kind::CountMap, Some(entry)) if at == path::PRINTER_TYPE_COUNTS => {
                self.printer_types.push((entry, int(count)));
            }
            (Kind::CountMap, Some(entry)) if at == path::ERROR_SUMMARY => {
                if entry == TOTAL_ERRORS {
                    self.counts[5] = int(count);
                }
                self.errors.push((entry, int(count)));
            }
            (Kind::Flag, Some(entry)) if at == path::FEATURE_USAGE => {
                self.features.push((entry, count > 0.0));
            }
            _ => {}
        }
    }
}

/// Entries in key order, as a JSON object.
struct Entries<'a, V>(&'a [(&'a str, V)]);

impl<V: Serialize> Serialize for Entries<'_, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// Counts passed their ceilings (far below `i32::MAX`) when the report was folded.
fn int(count: f64) -> i32 {
    count as i32
}

/// Maps of identifiers and numbers always serialize.
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}
