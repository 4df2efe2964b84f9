use deadpool_postgres::Pool;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// The migration lock's class (refinery takes no lock of its own); the second key is the
/// schema, as for the rollup's lock: one migration at a time per schema.
const MIGRATION_LOCK: i32 = 0x746c_6d67; // "tlmg"

/// Applies the pending migrations, one instance at a time. Without the pool's statement
/// deadline: a migration of a large table, or waiting while another instance migrates, may
/// take longer.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    conn.batch_execute("SET statement_timeout = 0").await?;
    conn.execute(
        "SELECT pg_advisory_lock($1, hashtext(current_schema()))",
        &[&MIGRATION_LOCK],
    )
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
