//! PostHog's envelope, unwrapped as its own capture service unwraps it: a gzip body (said by
//! `Content-Encoding: gzip`, by `?compression=gzip-js`, or only by its magic bytes), and
//! posthog-js's form body `data=<base64 of the JSON>` (what `sendBeacon` sends). What comes out
//! is the JSON text `capture::read` reads.
//!
//! Decompression stops one byte past `max_decoded`: a small body that inflates to gigabytes
//! costs that much memory, no more, and is refused as too large.

use std::borrow::Cow;
use std::io::Read;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use flate2::bufread::MultiGzDecoder;

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Base64 as browsers write it, padded or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the request says about its body besides the bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wrapping {
    /// `Content-Encoding: gzip`, or `compression=gzip-js` (or `gzip`) in the query.
    pub gzip: bool,
    /// `Content-Type: application/x-www-form-urlencoded`.
    pub form: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("{0}")]
    Malformed(&'static str),
}

/// The JSON text inside `body`, at most `max_decoded` bytes of it.
pub fn unwrap(
    body: &[u8],
    wrapping: Wrapping,
    max_decoded: usize,
) -> Result<Cow<'_, [u8]>, EnvelopeError> {
    let payload = if wrapping.form || body.starts_with(b"data=") {
        Cow::Owned(form_data(body)?)
    } else {
        Cow::Borrowed(body)
    };
    let payload = if wrapping.gzip || payload.starts_with(&GZIP_MAGIC) {
        Cow::Owned(gunzip(&payload, max_decoded)?)
    } else {
        payload
    };
    if payload.len() > max_decoded {
        return Err(EnvelopeError::TooLarge(max_decoded));
    }
    Ok(payload)
}

/// The `data` field of a form: base64 (posthog-js), or the JSON itself (older clients).
fn form_data(body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let data = url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "data")
        .map(|(_, value)| value.into_owned())
        .ok_or(EnvelopeError::Malformed("the form has no `data` field"))?;
    let data = data.trim();
    if data.starts_with(['{', '[']) {
        return Ok(data.as_bytes().to_vec());
    }
    // A `+` the client did not escape has become a space in the form's decoding.
    BASE64
        .decode(data.replace(' ', "+"))
        .map_err(|_| EnvelopeError::Malformed("the form's `data` is neither JSON nor base64"))
}

/// Read from the bytes themselves (`bufread`): `read`'s decoder copied them through a buffer of
/// its own, allocated for every body.
fn gunzip(payload: &[u8], max_decoded: usize) -> Result<Vec<u8>, EnvelopeError> {
    let mut decoded = Vec::with_capacity(decoded_size(payload).min(max_decoded.saturating_add(1)));
    let limit = u64::try_from(max_decoded)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    MultiGzDecoder::new(payload)
        .take(limit)
        .read_to_end(&mut decoded)
        .map_err(|_| EnvelopeError::Malformed("the body is not valid gzip"))?;
    if decoded.len() > max_decoded {
        return Err(EnvelopeError::TooLarge(max_decoded));
    }
    Ok(decoded)
}

/// What a gzip stream says its text's size is (its last four bytes, the size modulo 2^32), to
/// make room once rather than grow while inflating. A hint only: never past the limit, nor past
/// what JSON inflates to from this many bytes, so that a few bytes with a lying trailer cannot
/// reserve the whole limit (a text that does inflate further grows as it is read).
fn decoded_size(payload: &[u8]) -> usize {
    const MOST_JSON_INFLATES: usize = 64;
    payload.last_chunk::<4>().map_or(0, |size| {
        (u32::from_le_bytes(*size) as usize).min(payload.len().saturating_mul(MOST_JSON_INFLATES))
    })
}
