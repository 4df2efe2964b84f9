use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tally::cli::run(tally::cli::Cli::parse()).await
}
