//! The server certificate check of each `sslmode`, as libpq (OpenSSL) makes it.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::db::rfc4519::CN;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::{Roots, SslMode};

/// Checks the server's certificate as far as the mode asks: nothing (an encrypted but
/// unauthenticated channel, as libpq's require), the chain, or the chain and the host name.
#[derive(Debug)]
pub(super) struct Verifier {
    pub(super) setting: String,
    pub(super) mode: SslMode,
    pub(super) roots: Option<Roots>,
    pub(super) provider: Arc<CryptoProvider>,
}

impl Verifier {
    /// The handshake error, worded so that the log line says which setting asked for what.
    fn refuse(&self, wanted: String, cause: rustls::Error) -> rustls::Error {
        let text = format!("{}: sslmode={} {wanted}: {cause}", self.setting, self.mode);
        rustls::Error::Other(rustls::OtherError(Arc::new(std::io::Error::other(text))))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)
            .map_err(|e| self.refuse("cannot read the server's certificate".to_owned(), e))?;
        let wanted = || {
            format!(
                "needs a certificate the server's chain leads to ({})",
                roots.origin
            )
        };
        // OpenSSL trusts a certificate found among the roots as it is: PostgreSQL's own
        // set-up, a self-signed `openssl req -x509` certificate (CA:TRUE) given to the client
        // as its root. webpki would refuse it as a CA used as an end entity.
        if roots.certs.iter().any(|root| root == end_entity) {
            within_validity(end_entity, now).map_err(|e| self.refuse(wanted(), e))?;
        } else {
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                &roots.store,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )
            .map_err(|e| self.refuse(wanted(), e))?;
        }
        if self.mode == SslMode::VerifyFull {
            verify_host(&cert, end_entity, server_name).map_err(|e| {
                let wanted = format!("needs a certificate for the host {}", server_name.to_str());
                self.refuse(wanted, e)
            })?;
        }
        Ok(ServerCertVerified::assertion())
    }

    // The handshake's own signatures are always checked: they make the channel private even
    // when the certificate is not.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn decode(der: &CertificateDer<'_>) -> Result<Certificate, rustls::Error> {
    Certificate::from_der(der).map_err(|_| CertificateError::BadEncoding.into())
}

/// A trusted certificate is still refused outside its validity period, as OpenSSL does.
fn within_validity(der: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let validity = decode(der)?.tbs_certificate.validity;
    let now = Duration::from_secs(now.as_secs());
    if now < validity.not_before.to_unix_duration() {
        return Err(CertificateError::NotValidYet.into());
    }
    if now > validity.not_after.to_unix_duration() {
        return Err(CertificateError::Expired.into());
    }
    Ok(())
}

/// The host name check of verify-full. libpq reads the subject's CN when subjectAltName names
/// no host (PostgreSQL's documented `openssl req -x509 -subj "/CN=host"` makes such a
/// certificate); webpki never reads the CN, so it is checked here.
fn verify_host(
    cert: &ParsedCertificate<'_>,
    der: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> Result<(), rustls::Error> {
    let refused = match verify_server_name(cert, server_name) {
        Ok(()) => return Ok(()),
        Err(refused) => refused,
    };
    let decoded = decode(der)?;
    let names_a_host = decoded
        .tbs_certificate
        .get::<SubjectAltName>()
        .map_err(|_| rustls::Error::from(CertificateError::BadEncoding))?
        .is_some_and(|(_, names)| {
            names
                .0
                .iter()
                .any(|name| matches!(name, GeneralName::DnsName(_) | GeneralName::IpAddress(_)))
        });
    if names_a_host {
        return Err(refused);
    }
    let host = server_name.to_str();
    let matched = common_names(&decoded).any(|name| host_matches(&name, &host));
    if matched {
        Ok(())
    } else {
        Err(refused)
    }
}

/// The subject's common names, as text.
fn common_names(cert: &Certificate) -> impl Iterator<Item = String> + '_ {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == CN)
        .filter_map(|attribute| {
            let value = &attribute.value;
            value
                .decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .or_else(|_| {
                    value
                        .decode_as::<Ia5StringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .ok()
        })
}

/// libpq's comparison of a certificate's name with the host: case-insensitive, and a leading
/// `*.` stands for exactly one label.
pub(super) fn host_matches(name: &str, host: &str) -> bool {
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    match name.strip_prefix("*.") {
        Some(domain) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(domain)),
        None => false,
    }
}
