//! What a product's figures mean, as its cadence says: how `read::keys` reads them.

use crate::domain::{Cadence, Product};

/// A declared product, by its cadence.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A report product (weekly, daily): each installation counted by its latest report in a
    /// window; the day's reports and new installations in `daily_reports`.
    Reports(&'static Product),
    /// An event product: its days' rows summed (`activity_daily`); windows of presence.
    Events(&'static Product),
}

impl Source {
    pub fn of(product: &'static Product) -> Self {
        match product.cadence() {
            Cadence::Weekly | Cadence::Daily => Self::Reports(product),
            Cadence::Events => Self::Events(product),
        }
    }

    pub fn product(self) -> &'static Product {
        match self {
            Self::Reports(product) | Self::Events(product) => product,
        }
    }

    pub fn name(self) -> &'static str {
        self.product().name()
    }
}
