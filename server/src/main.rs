use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = tally::cli::Cli::parse();
    cli.command.runtime()?.block_on(tally::cli::run(cli))
}
