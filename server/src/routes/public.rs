//! `GET /api/v1/public/overview?product=` (no key): active installations and distributions, in
//! which every cell under `TALLY_MIN_COHORT` installations is merged into `other`. Printernizer:
//! the 30-day distributions of its daily tables. Other products: every declared dimension on
//! the latest rolled day (`activity_daily`), shown only when that day's active installations
//! reach the cohort.
//!
//! The only route without a key never reaches the database: it answers from a copy per product
//! made once per rollup run (`keep_fresh`), and stays under the per-source limit.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::domain::activity::key;
use crate::domain::{Catalog, Field, Product, OTHER, PRINTERNIZER};
use crate::error::{ApiError, ErrorBody};
use crate::limits::SourceAllowed;
use crate::rollup::engine::dimension;
use crate::routes::api::{last_updated, Target};
use crate::routes::openapi::bodies;
use crate::routes::stats::{date, Query, Snapshot, StatsSettings};
use crate::store::{self, Daily, ReadPool, StoreError};
use crate::telemetry::Chain;

/// Dimensions shown on the public overview (features and errors are not public).
const PUBLIC_DIMENSIONS: [&str; 5] = [
    dimension::VERSION,
    dimension::PLATFORM,
    dimension::DEPLOYMENT_MODE,
    dimension::COUNTRY,
    dimension::PRINTER_TYPE,
];

/// A rendered overview and the rollup run it was made after.
type Rendered = (Option<DateTime<Utc>>, web::Bytes);

/// Per product, the rendered overview.
pub struct PublicOverview {
    catalog: &'static Catalog,
    copies: RwLock<BTreeMap<&'static str, Rendered>>,
}

impl PublicOverview {
    pub fn new(catalog: &'static Catalog) -> Self {
        Self {
            catalog,
            copies: RwLock::default(),
        }
    }

    fn body(&self, product: &str) -> Option<web::Bytes> {
        let copies = self
            .copies
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        copies.get(product).map(|(_, body)| body.clone())
    }

    fn made_after(&self, product: &str) -> Option<Option<DateTime<Utc>>> {
        let copies = self
            .copies
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        copies.get(product).map(|(rolled_at, _)| *rolled_at)
    }

    /// Makes each product's copy anew when its daily tables were rolled since it was made.
    async fn refresh(&self, pool: &ReadPool, settings: &StatsSettings) -> Result<(), StoreError> {
        let daily = Daily::connect(pool).await?;
        let today = Utc::now().date_naive();
        for product in self.catalog.products() {
            let name = product.name();
            let rolled_at = daily.rolled_at(name).await?;
            if self.made_after(name) == Some(rolled_at) {
                continue;
            }
            let rendered = if name == PRINTERNIZER {
                let snapshot = Snapshot::load(&daily, name, today).await?;
                render(&snapshot, settings.min_cohort)
            } else {
                render_activity(&daily, product, rolled_at, today, settings.min_cohort).await?
            };
            let body = web::Bytes::from(rendered.to_string());
            let mut copies = self
                .copies
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            copies.insert(name, (rolled_at, body));
        }
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
    summary = "Active installations and distributions, small cells merged into `other` (no key)",
    description = "Printernizer: the 30-day distributions of `version`, `platform`, `deployment_mode`, `country` and `printer_type`. Other products: the installations per value of every declared dimension (by path) on the latest rolled day (`as_of`), shown when that day's active installations reach `min_cohort`. Every shown number describes at least `min_cohort` installations.",
    params(("product" = Option<String>, Query, description = "A declared product; `printernizer` by default")),
    responses(
        (status = 200, description = "OK", body = bodies::PublicOverview),
        (status = 404, description = "Unknown product", body = ErrorBody),
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
    query: Query,
    overview: web::Data<PublicOverview>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::of(&query, overview.catalog)?;
    match overview.body(target.name()) {
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
            let cells = snapshot
                .cells_of(name)
                .map(|cell| (cell.value.clone(), cell.installations));
            distributions.insert(name.to_owned(), json!(merge_small_cells(cells, k)));
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
fn merge_small_cells(
    cells: impl IntoIterator<Item = (String, i64)>,
    k: i64,
) -> BTreeMap<String, i64> {
    let mut kept: Vec<(String, i64)> = Vec::new();
    let mut other = 0;
    for (value, installations) in cells {
        if value == OTHER || installations < k {
            other += installations;
        } else {
            kept.push((value, installations));
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

/// An activity product's overview: active installations of the latest rolled day's 7 and 30
/// days, and each declared dimension's installations per value on that day, under the same
/// suppression as Printernizer's.
async fn render_activity(
    daily: &Daily,
    product: &Product,
    rolled_at: Option<DateTime<Utc>>,
    today: chrono::NaiveDate,
    min_cohort: i64,
) -> Result<Value, StoreError> {
    let k = min_cohort.max(1);
    let name = product.name();
    let shown = |n: i64| if n >= k { json!(n) } else { Value::Null };
    let Some(day) = daily.activity_latest_day(name, today).await? else {
        return Ok(json!({
            "as_of": null,
            "active_installations_30d": null,
            "active_installations_7d": null,
            "distributions": {},
            "min_cohort": k,
            "last_updated": last_updated(rolled_at),
        }));
    };
    let active = |window: i16| async move {
        let rows = daily.activity_windows(name, window, "", day, day).await?;
        Ok::<i64, StoreError>(rows.first().map_or(0, |(_, n)| *n))
    };
    let (on_the_day, week, month) = (active(1).await?, active(7).await?, active(30).await?);
    let mut distributions = Map::new();
    if on_the_day >= k {
        let paths = product
            .paths()
            .filter(|(_, field)| matches!(field, Field::Dimension(_)));
        for (path, _) in paths {
            let under = key::dimension(&path, "");
            let rows = daily
                .activity_keys(name, &[], Some(&under), day, day)
                .await?;
            let cells = rows.iter().filter_map(|row| {
                let value = row.key.strip_prefix(&under)?;
                Some((value.to_owned(), row.installations))
            });
            distributions.insert(path, json!(merge_small_cells(cells, k)));
        }
    }
    Ok(json!({
        "as_of": date(day),
        "active_installations_30d": shown(month),
        "active_installations_7d": shown(week),
        "distributions": distributions,
        "min_cohort": k,
        "last_updated": last_updated(rolled_at),
    }))
}
