//! Rebuilds the crate when a migration is added or changed: `refinery::embed_migrations!` reads
//! `../migrations` while compiling, and cargo cannot see that it does.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
