use chrono::NaiveDate;
use deadpool_postgres::Pool;

use super::StoreError;

/// Adds counts (product, outcome, count) to a day's ingest outcomes.
pub async fn add_outcomes(
    pool: &Pool,
    day: NaiveDate,
    counts: &[(&str, &str, i64)],
) -> Result<(), StoreError> {
    let products: Vec<&str> = counts.iter().map(|count| count.0).collect();
    let outcomes: Vec<&str> = counts.iter().map(|count| count.1).collect();
    let numbers: Vec<i64> = counts.iter().map(|count| count.2).collect();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO ingest_outcomes (product, day, outcome, count)
             SELECT product, $1, outcome, count
             FROM UNNEST($2::text[], $3::text[], $4::bigint[]) AS t(product, outcome, count)
             ON CONFLICT (product, day, outcome)
             DO UPDATE SET count = ingest_outcomes.count + EXCLUDED.count",
        )
        .await?;
    client
        .execute(&statement, &[&day, &products, &outcomes, &numbers])
        .await?;
    Ok(())
}
