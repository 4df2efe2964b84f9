//! Tally: receives weekly aggregated usage reports, checks and limits them, stores them in
//! PostgreSQL, and answers maintainers' questions.
//!
//! The map of the house:
//! - `cli`, `config`: the command line and every setting.
//! - `startup`: builds the app, runs it until SIGTERM, shuts it down in order; background tasks.
//! - `telemetry`: logs and metrics, and `observe`, the middleware every request passes.
//! - `error`: the HTTP boundary's errors and their JSON shapes.
//! - `html`: escaping for the pages and e-mails made from strings.
//! - `auth`, `limits`: API keys; rate limits and the salted source hash.
//! - `domain`: the parsed, valid world (the products' `Catalog`, their adapters and the one
//!   shape they fold every body into, `activity::Folded`).
//! - `outcomes`: what became of each submission, counted for the daily tables.
//! - `read`: the read model: the statistics every route, digest and overview reads, typed.
//! - `routes`: one module per endpoint family; a handler turns a read model into JSON.
//! - `store`: SQL and nothing else, including the group-commit writer.
//! - `rollup`: which days of the daily tables to roll, rolling them, and retention.
//! - `reports`: the weekly and monthly e-mailed reports for maintainers, and their schedule;
//!   they render the read model.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod html;
pub mod limits;
pub mod outcomes;
pub mod read;
pub mod reports;
pub mod rollup;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
