use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = tally::cli::Cli::parse();
    cli.command.runtime()?.block_on(tally::cli::run(cli))
}

// malloc and free were a tenth of the server's profile under load; jemalloc takes about 10%
// off its CPU per report at the same memory (load-tests/README.md, step 3).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
