use deadpool_postgres::Pool;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Any constant shared by all instances; refinery takes no lock of its own.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_796d_6967; // "tallymig"

/// Applies the pending migrations, one instance at a time.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = embedded::migrations::runner().run_async(&mut **conn).await;
    conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = outcome?;
    for applied in report.applied_migrations() {
        tracing::info!(migration = %applied, "migration applied");
    }
    Ok(())
}
