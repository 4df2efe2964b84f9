//! SMTP: the server's settings parsed from `TALLY_SMTP_URL`, and sending one message with
//! lettre over rustls. The password lives in a `Secret` and in lettre's credentials only: no
//! error, log line or response names it (a URL error names the variable, never its value).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::config::Secret;

/// Longest an SMTP conversation may take; a server that accepts and never answers is an error.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `TALLY_SMTP_URL` cannot be used; the message never quotes it (it holds the password).
    #[error("TALLY_SMTP_URL: {0}")]
    Url(&'static str),
    #[error("{name}: {value:?} is not an e-mail address")]
    Address { name: &'static str, value: String },
    #[error("the message could not be built: {0}")]
    Message(String),
    /// lettre's message already carries its cause (`network error: Connection refused`).
    #[error("the SMTP server {host}:{port} did not take the message: {cause}")]
    Send {
        host: String,
        port: u16,
        cause: String,
    },
    #[error("the SMTP server {host}:{port} did not answer within {SMTP_TIMEOUT:?}")]
    TimedOut { host: String, port: u16 },
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `?tls=none`: plain text, for a relay on the same host or network.
    None,
    /// `smtp://` without credentials: STARTTLS when the server offers it.
    StartTlsIfOffered,
    /// `smtp://` with credentials (or `?tls=required`): STARTTLS or no conversation, so a
    /// password never crosses the network in clear.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Tls,
}

/// `TALLY_SMTP_URL`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl SmtpUrl {
    pub fn parse(url: &Secret) -> Result<Self, MailError> {
        let url = Url::parse(url.expose()).map_err(|_| MailError::Url("not a URL"))?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(MailError::Url("the scheme must be smtp or smtps")),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(MailError::Url("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|t| t.into_owned())
        };
        let user = Some(url.username())
            .filter(|user| !user.is_empty())
            .map(decode)
            .transpose()
            .map_err(|_| MailError::Url("the user name is not UTF-8"))?;
        let password = url
            .password()
            .map(decode)
            .transpose()
            .map_err(|_| MailError::Url("the password is not UTF-8"))?
            .map(|password| password.parse::<Secret>())
            .transpose()
            .map_err(|_| MailError::Url("the password cannot be read"))?;
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none" | "required" | "opportunistic") => tls = Some(value.into_owned()),
                ("tls", _) => {
                    return Err(MailError::Url(
                        "tls must be none, opportunistic or required",
                    ))
                }
                _ => return Err(MailError::Url("the only query parameter is tls")),
            }
        }
        let security = match (implicit_tls, tls.as_deref()) {
            (true, None | Some("required")) => Security::Tls,
            (true, Some(_)) => return Err(MailError::Url("smtps:// is always TLS")),
            (false, Some("none")) => Security::None,
            (false, Some("required")) => Security::StartTls,
            (false, Some(_)) if user.is_some() => {
                return Err(MailError::Url(
                    "with credentials, STARTTLS is required (or say tls=none)",
                ))
            }
            (false, _) if user.is_some() => Security::StartTls,
            (false, _) => Security::StartTlsIfOffered,
        };
        let port = url.port().unwrap_or(match security {
            Security::Tls => 465,
            Security::StartTls | Security::StartTlsIfOffered => 587,
            Security::None => 25,
        });
        if user.is_none() && password.is_some() {
            return Err(MailError::Url("a password without a user name"));
        }
        Ok(Self {
            host,
            port,
            security,
            user,
            password,
        })
    }
}

/// Parses one address (`a@b.org` or `Name <a@b.org>`); `name` says which setting it came from.
pub fn mailbox(name: &'static str, value: &str) -> Result<Mailbox, MailError> {
    value.trim().parse().map_err(|_| MailError::Address {
        name,
        value: value.trim().to_owned(),
    })
}

/// A connection factory for one SMTP server (a new connection per message: reports are rare).
pub struct Mailer {
    url: SmtpUrl,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("url", &self.url).finish()
    }
}

impl Mailer {
    pub fn new(url: SmtpUrl) -> Result<Self, MailError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|_| MailError::Url("TLS cannot be set up for this host"))
        };
        let tls = match url.security {
            Security::None => Tls::None,
            Security::StartTlsIfOffered => Tls::Opportunistic(tls(&url.host)?),
            Security::StartTls => Tls::Required(tls(&url.host)?),
            Security::Tls => Tls::Wrapper(tls(&url.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &url.user {
            let password = url.password.as_ref().map_or("", |p| p.expose());
            builder = builder.credentials(Credentials::new(user.clone(), password.to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            url,
        })
    }

    pub fn url(&self) -> &SmtpUrl {
        &self.url
    }

    /// Sends one message with an HTML body and its plain-text alternative.
    pub async fn send(
        &self,
        from: &Mailbox,
        to: &[Mailbox],
        subject: &str,
        html: String,
        text: String,
    ) -> Result<(), MailError> {
        let mut message = Message::builder().from(from.clone()).subject(subject);
        for recipient in to {
            message = message.to(recipient.clone());
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Message(e.to_string()))?;
        let (host, port) = (self.url.host.clone(), self.url.port);
        match tokio::time::timeout(SMTP_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(MailError::Send {
                host,
                port,
                cause: error.to_string(),
            }),
            Err(_) => Err(MailError::TimedOut { host, port }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpUrl, MailError> {
        SmtpUrl::parse(&url.parse().unwrap())
    }

    #[test]
    fn an_smtp_url_with_credentials_requires_starttls_on_the_submission_port() {
        let url = parse("smtp://bot%40example.org:p%40ss@mail.example.org").unwrap();
        assert_eq!(url.host, "mail.example.org");
        assert_eq!(url.port, 587);
        assert_eq!(url.security, Security::StartTls);
        assert_eq!(url.user.as_deref(), Some("bot@example.org"));
        assert_eq!(url.password.unwrap().expose(), "p@ss");
    }

    #[test]
    fn smtps_is_tls_from_the_start_and_tls_none_is_a_plain_relay() {
        let tls = parse("smtps://u:p@mail.example.org").unwrap();
        assert_eq!((tls.security, tls.port), (Security::Tls, 465));
        let relay = parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((relay.security, relay.port), (Security::None, 2525));
        let open = parse("smtp://relay.internal").unwrap();
        assert_eq!(open.security, Security::StartTlsIfOffered);
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_quoting_the_password() {
        for url in [
            "http://u:hunter2@mail.example.org",
            "smtp://u:hunter2@mail.example.org?tls=maybe",
            "smtp://u:hunter2@mail.example.org?tls=opportunistic",
            "smtps://u:hunter2@mail.example.org?tls=none",
            "smtp://u:hunter2@mail.example.org?verify=no",
            "not a url hunter2",
        ] {
            let error = parse(url).unwrap_err().to_string();
            assert!(error.starts_with("TALLY_SMTP_URL"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_parsed_url_does_not_show_the_password_when_debugged() {
        let url = parse("smtp://u:hunter2@mail.example.org").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
