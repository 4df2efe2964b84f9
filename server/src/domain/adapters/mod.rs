//! Wire adapters: each product format's bodies folded into the one internal shape,
//! `activity::Folded`, Printernizer's weekly report included. What a product may send is data (its catalog declaration), so a new
//! product with a known format needs only a catalog entry; a new format is one file here,
//! built on the shared folding step (`fold.rs`), never a second writer, limiter or rollup.
//!
//! Every adapter is a pure function of the body, the product's declaration and the clock. It
//! returns the rows of everything usable (with what was reduced, stored as `other` or dropped,
//! counted), or, when the request as a whole cannot be used, every reason at once and no row.

mod body;
pub mod capture;
pub mod envelope;
pub mod events;
mod fold;
pub mod indexpilot;
mod json;
mod parts;
pub mod printernizer;

pub use capture::Capture;

use super::FieldError;

/// Why a body was refused whole: no `Folded`, nothing stored.
#[derive(Debug, PartialEq)]
pub enum Rejected {
    /// Not JSON at all (400).
    Malformed(String),
    /// JSON whose fields break their rules (422), every broken field listed.
    Invalid(Vec<FieldError>),
}

#[cfg(test)]
mod tests;
