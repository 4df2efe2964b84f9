//! `tally-load`: load generator for Tally. Loopback only; one JSON report on stdout.
//!
//! `cli` reads the flags, `payload` writes the reports and `formats` the event formats' bodies,
//! `driver` runs the loops, `cpu` times the watched processes, `report` turns the counts into
//! the JSON. This file wires them together.

mod cli;
mod cpu;
mod driver;
mod formats;
mod payload;
mod report;
mod rng;

use std::process::ExitCode;

use clap::Parser;
use hyper::header::HeaderValue;

use cli::{Args, Mode, Secret, Target};
use driver::{Bodies, Pace, Plan, Work};

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
    let work = work(&args)?;
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
    if let Work::Post { bodies, .. } = &work {
        if let Some(total) = bodies.total() {
            eprintln!(
                "tally-load: the pool has {total} bodies to send; the run ends when all are sent"
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
    // Only /submit's acknowledged reports are what the summary counts.
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

/// What each request is, from the target and its flags.
fn work(args: &Args) -> Result<Work, String> {
    let key = || {
        args.key.as_ref().ok_or_else(|| {
            format!(
                "--target {} needs the ingest key: --key or TALLY_LOAD_INGEST_KEY",
                args.target.name()
            )
        })
    };
    let format = match args.target {
        Target::Health => return Ok(Work::Health),
        Target::Submit => {
            let now = chrono::Utc::now().naive_utc();
            return Ok(Work::Post {
                route: "/submit",
                bodies: Bodies::Reports(payload::Generator::new(
                    args.seed,
                    now,
                    args.installations()?,
                )),
                key: Some(header_value(key()?, "--key")?),
            });
        }
        Target::Capture => formats::Format::CaptureBatch,
        Target::CaptureSingle => formats::Format::Capture,
        Target::Events => formats::Format::Events,
        Target::Telemetry => formats::Format::Telemetry,
    };
    // Capture bodies carry their key; Stories sends none; IndexPilot's goes in the header.
    let (header, api_key) = match format {
        formats::Format::CaptureBatch | formats::Format::Capture => {
            (None, key()?.expose().to_owned())
        }
        formats::Format::Events => (None, String::new()),
        formats::Format::Telemetry => (Some(header_value(key()?, "--key")?), String::new()),
    };
    let events = args.batch_events.clone().unwrap_or(match format {
        formats::Format::CaptureBatch => 1..=100,
        formats::Format::Events => 10..=50,
        formats::Format::Capture | formats::Format::Telemetry => 1..=1,
    });
    let mix = formats::Mix {
        events,
        gzip_percent: args.gzip_percent,
        resend_percent: args.resend_percent,
    };
    let generator = formats::Generator {
        seed: args.seed,
        now: chrono::Utc::now(),
        format,
        installations: args.event_installations()?,
        mix,
        api_key,
    };
    Ok(Work::Post {
        route: format.route(),
        bodies: Bodies::Events(generator),
        key: header,
    })
}

/// A key as a header value marked sensitive (hyper then keeps it out of its debug output).
fn header_value(key: &Secret, flag: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(key.expose())
        .map_err(|_| format!("{flag} contains characters that cannot go in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}
