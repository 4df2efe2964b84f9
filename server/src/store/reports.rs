//! What the scheduled e-mail reports remember: which periods were sent. A send happens inside
//! a transaction that holds an advisory lock, so one instance sends at a time, and the row that
//! says "sent" is committed with it.

use chrono::NaiveDate;
use deadpool_postgres::{Object, Transaction};

use super::StoreError;

/// The report lock's class; the second key is the schema (see `ROLLUP_LOCK`).
const REPORT_LOCK: i32 = 0x746c_7270; // "tlrp"

/// The last day of the latest period of `kind` that was sent.
pub async fn last_sent(client: &Object, kind: &str) -> Result<Option<NaiveDate>, StoreError> {
    let row = client
        .query_one(
            "SELECT max(period_end) FROM sent_reports WHERE kind = $1",
            &[&kind],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The right to send one period, held until `sent` commits or the value is dropped (which
/// rolls back and releases the lock: nothing is remembered, a later step tries again).
pub struct Sending<'a> {
    tx: Transaction<'a>,
    kind: &'a str,
    from: NaiveDate,
    to: NaiveDate,
}

/// `None` when another instance is sending now or the period was sent already.
pub async fn begin_sending<'a>(
    client: &'a mut Object,
    kind: &'a str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Sending<'a>>, StoreError> {
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&REPORT_LOCK],
        )
        .await?
        .try_get(0)?;
    if !locked {
        return Ok(None);
    }
    let sent: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM sent_reports
                            WHERE kind = $1 AND period_start = $2 AND period_end = $3)",
            &[&kind, &from, &to],
        )
        .await?
        .try_get(0)?;
    if sent {
        return Ok(None);
    }
    Ok(Some(Sending { tx, kind, from, to }))
}

impl Sending<'_> {
    /// Remembers the period as sent and releases the lock.
    pub async fn sent(self, products: &[String], recipients: usize) -> Result<(), StoreError> {
        let recipients = i32::try_from(recipients).unwrap_or(i32::MAX);
        self.tx
            .execute(
                "INSERT INTO sent_reports (kind, period_start, period_end, products, recipients)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&self.kind, &self.from, &self.to, &products, &recipients],
            )
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
