//! The registry of installations that `/stats/summary` counts (`installations`), kept off the
//! write path: a registration adds the installations of the reports received since its last
//! watermark, and the summary adds at read time only those received after it.

use deadpool_postgres::Object;
use tokio_postgres::types::Timestamp;

use super::{summarize_brin_indexes, watermark, StoreError};

/// The registration lock's class; the second key is the schema (see `ROLLUP_LOCK`): one
/// registration at a time per schema, the others skip their turn.
const REGISTRY_LOCK: i32 = 0x746c_7267; // "tlrg"

/// Registers the installations of the reports received since the last registration and moves
/// its watermark, in one transaction; `None` when another instance is registering.
pub async fn register_installations(
    client: &mut Object,
    product: &str,
) -> Result<Option<u64>, StoreError> {
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&REGISTRY_LOCK],
        )
        .await?
        .try_get(0)?;
    if !locked {
        return Ok(None);
    }
    // The reports received since the last turn fill block ranges the BRIN index on
    // `received_at` has not summarized yet, and a range not summarized matches every scan:
    // without this, each turn reread everything since the rollup last summarized (measured:
    // 270 ms a turn after 20 s at 26,000 reports/s, growing with every second).
    summarize_brin_indexes(&tx).await?;
    // One registration at a time with erasure (which removes installations); `submissions`
    // first, as everyone locks. Each lock is its own statement, so the insert below reads a
    // snapshot taken after any erasure ahead of it committed.
    tx.batch_execute(
        "LOCK TABLE submissions IN ACCESS SHARE MODE;
         LOCK TABLE installations IN SHARE ROW EXCLUSIVE MODE;
         SET LOCAL enable_seqscan = off;
         SET LOCAL jit = off",
    )
    .await?;
    let since: Timestamp<chrono::DateTime<chrono::Utc>> = tx
        .query_opt(
            "SELECT watermark FROM registration_state WHERE product = $1",
            &[&product],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .unwrap_or(Timestamp::NegInfinity);
    // Only the BRIN index on `received_at` finds the last second's reports cheaply, but on a
    // partition whose statistics lag (a new month, a burst) the planner reads every report of
    // the product, through the primary key (measured 145 ms a turn at 26,000 reports/s) or a
    // sequential scan: `OFFSET 0` keeps `product = $1` out of the scan, and sequential scans
    // are off for this transaction (and JIT with them: priced-out plans would be compiled).
    // Taken before the insert's snapshot: whatever commits later carries a later `received_at`.
    let (_, next) = watermark(&tx).await?;
    let row = tx
        .query_one(
            "WITH registered AS (
                 INSERT INTO installations (product, installation_id)
                 SELECT DISTINCT product, installation_id
                 FROM (SELECT product, installation_id FROM submissions
                       WHERE received_at >= $2 OFFSET 0) AS recent
                 WHERE product = $1
                 ON CONFLICT DO NOTHING
                 RETURNING 1),
             counted AS (
                 INSERT INTO submission_counts AS c (product, shard, submissions, installations)
                 VALUES ($1, 0, 0, (SELECT count(*) FROM registered))
                 ON CONFLICT (product, shard) DO UPDATE SET
                     installations = c.installations + EXCLUDED.installations),
             moved AS (
                 INSERT INTO registration_state (product, watermark) VALUES ($1, $3)
                 ON CONFLICT (product) DO UPDATE SET watermark = $3)
             SELECT count(*) FROM registered",
            &[&product, &since, &next],
        )
        .await?;
    tx.commit().await?;
    let registered: i64 = row.try_get(0)?;
    Ok(Some(u64::try_from(registered).unwrap_or(0)))
}
