use chrono::NaiveDate;
use deadpool_postgres::Pool;

use super::StoreError;

/// Adds counts to a day's ingest outcomes.
pub async fn add_outcomes(
    pool: &Pool,
    product: &str,
    day: NaiveDate,
    counts: &[(&str, i64)],
) -> Result<(), StoreError> {
    let (outcomes, numbers): (Vec<&str>, Vec<i64>) = counts.iter().copied().unzip();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO ingest_outcomes (product, day, outcome, count)
             SELECT $1, $2, outcome, count FROM UNNEST($3::text[], $4::bigint[]) AS t(outcome, count)
             ON CONFLICT (product, day, outcome)
             DO UPDATE SET count = ingest_outcomes.count + EXCLUDED.count",
        )
        .await?;
    client
        .execute(&statement, &[&product, &day, &outcomes, &numbers])
        .await?;
    Ok(())
}
