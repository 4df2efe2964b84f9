//! `tally-load`: load generator for Tally. Loopback only; one JSON report on stdout.
//!
//! `cli` reads the flags, `payload` writes the bodies, `driver` runs the loops, `cpu` times the
//! watched processes, `report` turns the counts into the JSON. This file wires them together.

mod cli;
mod cpu;
mod driver;
mod payload;
mod report;
mod rng;

use std::process::ExitCode;

use clap::Parser;
use hyper::header::HeaderValue;

use cli::{Args, Mode, Secret, Target};
use driver::{Pace, Plan, Work};

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(args.threads as usize);
        builder
    };
    let runtime = runtime.enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tally-load: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let work = match args.target {
        Target::Health => Work::Health,
        Target::Submit => {
            let key = args
                .key
                .as_ref()
                .ok_or("--target submit needs the ingest key: --key or TALLY_LOAD_INGEST_KEY")?;
            let now = chrono::Utc::now().naive_utc();
            Work::Submit {
                generator: payload::Generator::new(args.seed, now, args.installations()),
                key: header_value(key, "--key")?,
            }
        }
    };
    let admin_key = args
        .admin_key
        .as_ref()
        .map(|key| header_value(key, "--admin-key"))
        .transpose()?;
    let pace = match (args.mode, args.rate) {
        (Mode::Open, Some(rate)) => Pace::Open { rate },
        (Mode::Open, None) => return Err("--mode open needs --rate".into()),
        (Mode::Closed, rate) => {
            if rate.is_some() {
                eprintln!("tally-load: --rate is ignored in closed mode");
            }
            Pace::Closed
        }
    };

    driver::probe(args.url.addr, args.timeout).await?;
    let stored_before = match &admin_key {
        Some(key) => Some(driver::total_submissions(&args.url, key, args.timeout).await?),
        None => None,
    };
    eprintln!(
        "tally-load: {} {} loop on {} with {} connections, {:?} warm-up + {:?}",
        args.target.name(),
        args.mode.name(),
        args.url.addr,
        args.connections,
        args.warmup,
        args.duration
    );
    if let Work::Submit { generator, .. } = &work {
        if let Some(total) = generator.total() {
            eprintln!(
                "tally-load: the pool has {total} reports to send; the run ends when all are sent"
            );
        }
    }
    let window = cpu::Window::start(args.cpu_pids.clone(), args.warmup, args.duration);
    let outcome = driver::run(Plan {
        url: args.url.clone(),
        work,
        pace,
        connections: args.connections,
        warmup: args.warmup,
        duration: args.duration,
        timeout: args.timeout,
    })
    .await;
    let cpu_secs = window.finish().await;
    let stored_after = match &admin_key {
        Some(key) => match driver::total_submissions(&args.url, key, args.timeout).await {
            Ok(total) => Some(total),
            Err(e) => {
                eprintln!("tally-load: could not read the stored count after the run: {e}");
                None
            }
        },
        None => None,
    };

    let setup = report::Setup {
        target: args.target.name(),
        mode: args.mode.name(),
        rate: args.rate.filter(|_| args.mode == Mode::Open),
        connections: args.connections,
        installations: args.installations.name(),
        seed: args.seed,
        warmup_secs: args.warmup.as_secs_f64(),
    };
    let counts_rows = args.target == Target::Submit;
    let report = report::Report::new(setup, &outcome, counts_rows, stored_before, stored_after)
        .with_cpu(cpu_secs);
    let json = report.to_json();
    println!("{json}");
    if let Some(path) = &args.report {
        std::fs::write(path, format!("{json}\n"))
            .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
    }
    if outcome.histogram.is_empty() && outcome.warmup_requests > 0 && outcome.answered > 0 {
        eprintln!(
            "tally-load: every request fell in the warm-up (a pool that ran out?): nothing was \
             measured; use a shorter --warmup or a larger --pool / --weeks"
        );
    }
    if outcome.answered == 0 {
        return Err(format!(
            "the target at {} never answered ({} transport errors)",
            args.url.addr,
            outcome.transport_errors + outcome.warmup_requests
        ));
    }
    Ok(())
}

/// A key as a header value marked sensitive (hyper then keeps it out of its debug output).
fn header_value(key: &Secret, flag: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(key.expose())
        .map_err(|_| format!("{flag} contains characters that cannot go in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}
