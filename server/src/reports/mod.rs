//! E-mailed reports for maintainers (Printernizer's `/reports/*`): a weekly and a monthly
//! summary of the daily tables, sent on a schedule by `tally serve` or on demand. Here a
//! "report" is the e-mail, not an installation's submission.
//!
//! A report has a part per product (`TALLY_REPORT_PRODUCTS`), read from the read model: a report
//! product's is the very figures `/stats/*` serialises (`read::figures`), loaded for the
//! period's last day; any other product's speaks its declaration's terms, read as `/api/v1/*`
//! reads them (`read::series`), so each says what its dashboard says.
//!
//! - `part`: a product's part, by where its figures are read.
//! - `render`: subject, HTML and plain text.
//! - `mail`: `TALLY_SMTP_URL` and sending over SMTP (lettre, rustls).
//! - `schedule`: when a report is due, and the task that sends it once per period.

pub mod mail;
mod part;
mod render;
pub mod schedule;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lettre::message::Mailbox;
use serde::Serialize;

use crate::config::ReportsConfig;
use crate::domain::Catalog;
use crate::read::{ReadError, Source};
use crate::store::{Daily, StoreError};
use mail::{mailbox, MailError, Mailer, Security, SmtpUrl};
use schedule::Schedule;

pub use part::{DeclaredPart, InstallationCounts, Part, ProductReport};
pub use render::{html, subject, text};

/// The most recipients one request may name instead of the configured ones.
const MAX_RECIPIENTS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("E-mail is not configured: {0}")]
    NotConfigured(&'static str),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Mail(#[from] MailError),
    /// A product, or a figure of one, that its declaration does not name.
    #[error("{0}")]
    Undeclared(String),
    #[error("the statistics could not be read")]
    Store(#[from] StoreError),
}

impl From<ReadError> for ReportError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Unknown(what) => Self::Undeclared(what.to_owned()),
            ReadError::Store(error) => Self::Store(error),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Weekly,
    Monthly,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Weekly, Kind::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// The days a report covers on demand, and the window of its rates of installations.
    pub fn days(self) -> i16 {
        match self {
            Self::Weekly => 7,
            Self::Monthly => 30,
        }
    }
}

/// The days a report covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub kind: Kind,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// On demand: the 7 days (weekly) or the 30 days (monthly) ending `to`.
    pub fn ending(kind: Kind, to: NaiveDate) -> Self {
        Self {
            kind,
            from: to - Duration::days(i64::from(kind.days()) - 1),
            to,
        }
    }

    pub fn days(&self) -> u32 {
        u32::try_from((self.to - self.from).num_days() + 1).unwrap_or(1)
    }
}

/// One e-mail: a period, and a part for each product it covers.
#[derive(Debug, Clone)]
pub struct Report {
    pub period: Period,
    pub products: Vec<Part>,
    /// The built-in dashboard, when `TALLY_PUBLIC_URL` is set.
    pub dashboard: Option<String>,
}

impl Report {
    /// Loads each product's part for the period.
    pub async fn load(
        daily: &Daily,
        products: &[Source],
        period: Period,
        dashboard: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        let mut parts = Vec::with_capacity(products.len());
        for product in products {
            parts.push(Part::load(daily, *product, period, now).await?);
        }
        Ok(Self {
            period,
            products: parts,
            dashboard,
        })
    }
}

/// What `GET /reports/email-status` answers (Printernizer's keys).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailStatus {
    pub enabled: bool,
    pub configured: bool,
    pub host: Option<String>,
    pub from_email: Option<String>,
    pub recipients_count: usize,
    pub use_tls: bool,
    pub use_ssl: bool,
}

/// The reports' settings, checked once at start-up, and the mailer.
#[derive(Debug)]
pub struct Reporting {
    mailer: Option<Mailer>,
    from: Option<Mailbox>,
    recipients: Vec<Mailbox>,
    pub products: Vec<Source>,
    pub dashboard: Option<String>,
    pub schedule: Schedule,
}

impl Reporting {
    /// The products of `TALLY_REPORT_PRODUCTS` as `catalog` declares them; Printernizer when it
    /// names none.
    pub fn new(config: &ReportsConfig, catalog: &'static Catalog) -> Result<Self, ReportError> {
        let mailer = config
            .smtp_url
            .as_ref()
            .map(|url| Mailer::new(SmtpUrl::parse(url)?))
            .transpose()?;
        let from = config
            .report_from
            .as_deref()
            .filter(|from| !from.trim().is_empty())
            .map(|from| mailbox("TALLY_REPORT_FROM", from))
            .transpose()?;
        let recipients = config
            .report_recipients
            .iter()
            .filter(|to| !to.trim().is_empty())
            .map(|to| mailbox("TALLY_REPORT_RECIPIENTS", to))
            .collect::<Result<_, _>>()?;
        let mut names: Vec<&str> = config
            .report_products
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect();
        if names.is_empty() {
            names.push(catalog.printernizer().product());
        }
        let products = names
            .into_iter()
            .map(|name| {
                catalog.product(name).map(Source::of).ok_or_else(|| {
                    ReportError::Undeclared(format!(
                        "TALLY_REPORT_PRODUCTS: {name:?} is not a declared product"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let dashboard = config
            .public_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty())
            .map(|url| format!("{url}/dashboard"));
        Ok(Self {
            mailer,
            from,
            recipients,
            products,
            dashboard,
            schedule: Schedule {
                weekday: config.report_weekday,
                hour: config.report_hour,
            },
        })
    }

    /// Scheduled reports need a server, a sender and recipients.
    pub fn is_configured(&self) -> bool {
        self.mailer.is_some() && self.from.is_some() && !self.recipients.is_empty()
    }

    pub fn status(&self) -> EmailStatus {
        let url = self.mailer.as_ref().map(Mailer::url);
        EmailStatus {
            enabled: url.is_some(),
            configured: self.is_configured(),
            host: url.map(|url| url.host.clone()),
            from_email: self.from.as_ref().map(|from| from.email.to_string()),
            recipients_count: self.recipients.len(),
            use_tls: url.is_some_and(|url| {
                matches!(
                    url.security,
                    Security::StartTls | Security::StartTlsIfOffered
                )
            }),
            use_ssl: url.is_some_and(|url| url.security == Security::Tls),
        }
    }

    /// The recipients a request names instead of the configured ones, checked; or those.
    pub fn recipients(&self, named: Option<&[String]>) -> Result<Vec<Mailbox>, ReportError> {
        let Some(named) = named.filter(|named| !named.is_empty()) else {
            return Ok(self.recipients.clone());
        };
        if named.len() > MAX_RECIPIENTS {
            return Err(ReportError::InvalidRequest(format!(
                "at most {MAX_RECIPIENTS} recipients"
            )));
        }
        named
            .iter()
            .map(|to| {
                to.trim().parse().map_err(|_| {
                    ReportError::InvalidRequest(format!(
                        "recipients: {:?} is not an e-mail address",
                        to.trim()
                    ))
                })
            })
            .collect()
    }

    /// Sends one message to `to` (never empty: that is "not configured").
    pub async fn send(
        &self,
        to: &[Mailbox],
        subject: &str,
        html: String,
        text: String,
    ) -> Result<(), ReportError> {
        let Some(mailer) = &self.mailer else {
            return Err(ReportError::NotConfigured("TALLY_SMTP_URL is not set"));
        };
        let Some(from) = &self.from else {
            return Err(ReportError::NotConfigured("TALLY_REPORT_FROM is not set"));
        };
        if to.is_empty() {
            return Err(ReportError::NotConfigured(
                "no recipients: set TALLY_REPORT_RECIPIENTS or name them in the request",
            ));
        }
        Ok(mailer.send(from, to, subject, html, text).await?)
    }

    pub async fn send_report(&self, report: &Report, to: &[Mailbox]) -> Result<(), ReportError> {
        self.send(to, &subject(report), html(report), text(report))
            .await
    }
}

/// Addresses as a response lists them.
pub fn addresses(to: &[Mailbox]) -> Vec<String> {
    to.iter().map(|to| to.email.to_string()).collect()
}
