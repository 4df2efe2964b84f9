//! `GET /api/v1/public/overview` (no key): the 30-day distributions, in which every cell under
//! `TALLY_MIN_COHORT` installations is merged into `other`.
//!
//! The only route without a key never reaches the database: it answers from a copy made once
//! per rollup run (`keep_fresh`), and stays under the per-source limit.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::domain::OTHER;
use crate::error::{ApiError, ErrorBody};
use crate::limits::SourceAllowed;
use crate::rollup::engine::dimension;
use crate::routes::api::last_updated;
use crate::routes::openapi::bodies;
use crate::routes::stats::{date, Snapshot, StatsSettings};
use crate::store::{self, Daily, DimensionRow, ReadPool, StoreError};
use crate::telemetry::Chain;

/// Dimensions shown on the public overview (features and errors are not public).
const PUBLIC_DIMENSIONS: [&str; 5] = [
    dimension::VERSION,
    dimension::PLATFORM,
    dimension::DEPLOYMENT_MODE,
    dimension::COUNTRY,
    dimension::PRINTER_TYPE,
];

/// The rendered overview and the rollup run it was made after.
#[derive(Default)]
pub struct PublicOverview {
    copy: RwLock<Option<(Option<DateTime<Utc>>, web::Bytes)>>,
}

impl PublicOverview {
    fn body(&self) -> Option<web::Bytes> {
        let copy = self
            .copy
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        copy.as_ref().map(|(_, body)| body.clone())
    }

    fn made_after(&self) -> Option<Option<DateTime<Utc>>> {
        let copy = self
            .copy
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        copy.as_ref().map(|(rolled_at, _)| *rolled_at)
    }

    /// Makes the copy anew when the daily tables were rolled since it was made.
    async fn refresh(&self, pool: &ReadPool, settings: &StatsSettings) -> Result<(), StoreError> {
        let daily = Daily::connect(pool).await?;
        let rolled_at = daily.rolled_at(settings.product).await?;
        if self.made_after() == Some(rolled_at) {
            return Ok(());
        }
        let snapshot = Snapshot::load(&daily, settings.product, Utc::now().date_naive()).await?;
        let body = web::Bytes::from(render(&snapshot, settings.min_cohort).to_string());
        let mut copy = self
            .copy
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *copy = Some((rolled_at, body));
        Ok(())
    }
}

/// Keeps the copy fresh until `stop`: checks every `every` whether a rollup ran (one query).
pub async fn keep_fresh(
    overview: web::Data<PublicOverview>,
    pool: web::Data<ReadPool>,
    settings: StatsSettings,
    deadline: Duration,
    every: Duration,
    stop: CancellationToken,
) {
    let mut turn = tokio::time::interval(every);
    turn.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = turn.tick() => {
                let refreshed = tokio::select! {
                    () = stop.cancelled() => break,
                    refreshed = store::within(deadline, overview.refresh(&pool, &settings)) => refreshed,
                };
                if let Err(error) = refreshed {
                    tracing::warn!(error = %Chain(&error), "public overview not refreshed");
                }
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/public/overview",
    tag = "api",
    operation_id = "api_public_overview",
    summary = "The 30-day distributions, small cells merged into `other` (no key)",
    responses(
        (status = 200, description = "OK", body = bodies::PublicOverview),
        SourceAllowed,
        (
            status = 503,
            description = "The overview has not been made yet (shortly after start)",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
        ),
    )
)]
#[tracing::instrument(name = "api_public_overview", skip_all)]
pub async fn public_overview(
    _: SourceAllowed,
    overview: web::Data<PublicOverview>,
) -> Result<HttpResponse, ApiError> {
    match overview.body() {
        Some(body) => Ok(HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(body)),
        None => Err(ApiError::Unavailable(
            "the public overview has not been made yet".into(),
        )),
    }
}

fn render(snapshot: &Snapshot, min_cohort: i64) -> Value {
    let k = min_cohort.max(1);
    let total = snapshot.distribution.installations;
    let shown = |n: i64| if n >= k { json!(n) } else { Value::Null };
    let mut distributions = Map::new();
    if total >= k {
        for name in PUBLIC_DIMENSIONS {
            let cells: Vec<&DimensionRow> = snapshot.cells_of(name).collect();
            distributions.insert(name.to_owned(), json!(merge_small_cells(&cells, k)));
        }
    }
    json!({
        "as_of": snapshot.as_of.map(date),
        "active_installations_30d": shown(total),
        "active_installations_7d": shown(snapshot.active.installations),
        "distributions": distributions,
        "min_cohort": k,
        "last_updated": last_updated(snapshot.rolled_at),
    })
}

/// Merges every cell under `k` installations into `other`; while `other` itself is under `k`,
/// the smallest remaining cell joins it, so no shown number describes fewer than `k`.
fn merge_small_cells(cells: &[&DimensionRow], k: i64) -> BTreeMap<String, i64> {
    let mut kept: Vec<(String, i64)> = Vec::new();
    let mut other = 0;
    for cell in cells {
        if cell.value == OTHER || cell.installations < k {
            other += cell.installations;
        } else {
            kept.push((cell.value.clone(), cell.installations));
        }
    }
    kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    while other > 0 && other < k {
        match kept.pop() {
            Some((_, n)) => other += n,
            None => break,
        }
    }
    let mut shown: BTreeMap<String, i64> = kept.into_iter().collect();
    if other >= k {
        shown.insert(OTHER.to_owned(), other);
    }
    shown
}
