//! The HTTP API against a real server on port 0 and a real PostgreSQL (a schema per test).
//! Run through `make test`, which starts the cluster and sets TALLY_TEST_DATABASE_URL.

mod activity_reads;
mod addresses;
mod api_v1;
mod batching;
mod catalog;
mod dashboard;
mod deploy;
mod erasure;
mod health;
mod helpers;
mod installation;
mod metrics;
mod openapi;
mod privacy;
mod privacy_page;
mod products_ingest;
mod reports;
mod rollup;
mod smtp_sink;
mod stalled;
mod stats;
mod submit;
mod tls;
mod upgrade;
mod writer;
