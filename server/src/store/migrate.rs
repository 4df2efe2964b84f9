use deadpool_postgres::Pool;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Any constant shared by all instances; refinery takes no lock of its own.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_796d_6967; // "tallymig"

/// Applies the pending migrations, one instance at a time. Without the pool's statement
/// deadline: a migration of a large table, or waiting while another instance migrates, may
/// take longer.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    conn.batch_execute("SET statement_timeout = 0").await?;
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = embedded::migrations::runner().run_async(&mut **conn).await;
    conn.batch_execute("SELECT pg_advisory_unlock_all(); RESET statement_timeout")
        .await?;
    let report = outcome?;
    for applied in report.applied_migrations() {
        tracing::info!(migration = %applied, "migration applied");
    }
    Ok(())
}
