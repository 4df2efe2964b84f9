//! TLS to PostgreSQL as libpq users know it: `sslmode` and `sslrootcert` in the database URL.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require` and refuses `sslrootcert`, so both
//! are taken out of the URL here and become a rustls configuration that checks what libpq checks.

use std::borrow::Cow;
use std::error::Error as _;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use percent_encoding::percent_decode_str;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode as WireMode;

use self::verifier::Verifier;

mod verifier;

/// Makes the TLS session of each new connection; never used when `sslmode=disable`.
pub type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// The connection settings and TLS connector for a database URL (URL or `key=value` form).
/// `setting` names the variable the URL came from, for the errors.
pub fn connector(setting: &str, url: &str) -> anyhow::Result<(tokio_postgres::Config, Tls)> {
    let (rest, mode, root) = take_tls_settings(url);
    // tokio-postgres keeps what is wrong (an option's name, never its value) in the source.
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
        let cause = e
            .source()
            .map_or_else(|| e.to_string(), ToString::to_string);
        anyhow!("{setting} is not a valid PostgreSQL URL: {cause}")
    })?;
    let mode = match mode {
        Some(mode) => mode.parse().map_err(|e| anyhow!("{setting}: {e}"))?,
        // libpq's default; with the system's roots named, libpq asks for the full check.
        None if root.as_deref() == Some("system") => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    let roots = match root.as_deref() {
        Some("system") if mode != SslMode::VerifyFull => bail!(
            "{setting}: sslmode={mode} may not be used with sslrootcert=system (use verify-full)"
        ),
        // A file named in the URL is checked even by prefer and require, as libpq does.
        Some(path) if path != "system" && mode != SslMode::Disable => {
            Some(roots_from_file(setting, path)?)
        }
        _ if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => {
            Some(system_roots(setting, mode)?)
        }
        _ => None,
    };
    config.ssl_mode(match mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Prefer => WireMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Verifier {
        setting: setting.to_owned(),
        mode,
        roots,
        provider: provider.clone(),
    };
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS library has no protocol version in common with itself")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((config, Tls::new(tls)))
}

/// libpq's `sslmode` values; `allow` (plain first, TLS if refused) has no tokio-postgres twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            "allow" => Err("sslmode=allow is not supported; use prefer or disable".to_owned()),
            other => Err(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )),
        }
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        })
    }
}

/// The URL without `sslmode` and `sslrootcert`, and their values. A URL we cannot take apart
/// is handed on whole, for tokio-postgres to say what is wrong with it.
fn take_tls_settings(url: &str) -> (String, Option<String>, Option<String>) {
    let mut mode = None;
    let mut root = None;
    let mut keep = |key: &str, value: Cow<'_, str>| {
        match key {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root = Some(value.into_owned()),
            _ => return true,
        }
        false
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        keep(
                            &percent_decode_str(key).decode_utf8_lossy(),
                            percent_decode_str(value).decode_utf8_lossy(),
                        )
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        match keyword_pairs(url) {
            Some(pairs) => pairs
                .into_iter()
                .filter(|(key, value, _)| keep(key, Cow::Borrowed(value)))
                .map(|(_, _, text)| text)
                .collect::<Vec<_>>()
                .join(" "),
            None => url.to_owned(),
        }
    };
    (rest, mode, root)
}

/// `key = value` pairs of the libpq keyword form: (key, unquoted value, the pair as written).
fn keyword_pairs(text: &str) -> Option<Vec<(&str, String, &str)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace())?;
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start().strip_prefix('=')?.trim_start();
        let quoted = rest.starts_with('\'');
        let mut chars = rest.char_indices().skip(usize::from(quoted));
        let mut value = String::new();
        let mut end = rest.len();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '\'' if quoted => {
                    end = at + 1;
                    break;
                }
                c if c.is_whitespace() && !quoted => {
                    end = at;
                    break;
                }
                c => value.push(c),
            }
        }
        pairs.push((key, value, &start[..start.len() - rest.len() + end]));
        rest = rest[end..].trim_start();
    }
    Some(pairs)
}

/// The certificates a server's chain must lead to, and where they came from (for errors).
#[derive(Debug)]
struct Roots {
    store: RootCertStore,
    /// The certificates as given: one the server presents as its own is trusted as it is.
    certs: Vec<CertificateDer<'static>>,
    origin: String,
}

fn roots_from_file(setting: &str, path: &str) -> anyhow::Result<Roots> {
    let pem = std::fs::read(path)
        .with_context(|| format!("{setting}: cannot read the sslrootcert file {path}"))?;
    let mut store = RootCertStore::empty();
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| format!("{setting}: sslrootcert {path} is not PEM"))?;
        store.add(cert.clone()).with_context(|| {
            format!("{setting}: sslrootcert {path} holds an unusable certificate")
        })?;
        certs.push(cert);
    }
    if store.is_empty() {
        bail!("{setting}: sslrootcert {path} holds no PEM certificate");
    }
    Ok(Roots {
        store,
        certs,
        origin: format!("sslrootcert {path}"),
    })
}

/// The machine's trusted roots: libpq would look for ~/.postgresql/root.crt, which a server in
/// a container does not have; the system store is where its operator puts a CA.
fn system_roots(setting: &str, mode: SslMode) -> anyhow::Result<Roots> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs.iter().cloned());
    if store.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        bail!(
            "{setting}: sslmode={mode} needs trusted roots: name a CA file with sslrootcert, \
             or install the system's (none found: {})",
            errors.join("; ")
        );
    }
    Ok(Roots {
        store,
        certs: found.certs,
        origin: "the system's trusted roots".to_owned(),
    })
}

#[cfg(test)]
mod tests;
