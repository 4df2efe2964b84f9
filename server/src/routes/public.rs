//! `GET /api/v1/public/overview?product=` (no key): the read model's overview
//! (`read::overview`), every cell under `TALLY_MIN_COHORT` installations merged into `other`.
//!
//! The only route without a key never reaches the database: it answers from a copy per product
//! made once per rollup run (`keep_fresh`), and stays under the per-source limit.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::domain::Catalog;
use crate::error::{ApiError, ErrorBody};
use crate::limits::SourceAllowed;
use crate::read::{self, Overview, Source};
use crate::routes::api::source;
use crate::routes::stats::{Query, StatsSettings};
use crate::store::{self, Daily, ReadPool, StoreError};
use crate::telemetry::Chain;

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
            let overview =
                read::overview(&daily, Source::of(product), today, settings.min_cohort).await?;
            // Plain maps and numbers always serialise; were one not to, the old copy stays.
            let body = match serde_json::to_vec(&overview) {
                Ok(body) => web::Bytes::from(body),
                Err(error) => {
                    tracing::error!(%error, "the public overview could not be serialised");
                    continue;
                }
            };
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
        (status = 200, description = "OK", body = Overview),
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
    let source = source(&query, overview.catalog)?;
    match overview.body(source.name()) {
        Some(body) => Ok(HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(body)),
        None => Err(ApiError::Unavailable(
            "the public overview has not been made yet".into(),
        )),
    }
}
