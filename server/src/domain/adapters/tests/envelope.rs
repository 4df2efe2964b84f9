use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::domain::adapters::envelope::{unwrap, EnvelopeError, Wrapping};

const JSON: &[u8] =
    br#"{"api_key": "k", "batch": [{"event": "e", "properties": {"note": "a+b/c"}}]}"#;
const MAX: usize = 1024 * 1024;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn said(gzip: bool, form: bool) -> Wrapping {
    Wrapping { gzip, form }
}

#[test]
fn a_plain_json_body_is_itself() {
    assert_eq!(unwrap(JSON, said(false, false), MAX).unwrap(), JSON);
}

#[test]
fn gzip_is_read_when_the_request_says_so_or_by_its_magic_bytes_alone() {
    assert_eq!(unwrap(&gzip(JSON), said(true, false), MAX).unwrap(), JSON);
    assert_eq!(unwrap(&gzip(JSON), said(false, false), MAX).unwrap(), JSON);
}

#[test]
fn a_body_of_two_gzip_members_is_read_as_one_text() {
    let (head, tail) = JSON.split_at(JSON.len() / 2);
    let body = [gzip(head), gzip(tail)].concat();

    assert_eq!(unwrap(&body, said(true, false), MAX).unwrap(), JSON);
}

#[test]
fn posthog_js_form_of_base64_is_read_padded_or_not_and_escaped_or_not() {
    let base64 = base64::engine::general_purpose::STANDARD.encode(JSON);
    let escaped = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &base64)
        .finish();
    let unescaped = format!("data={}&compression=base64", base64.trim_end_matches('='));

    assert_eq!(
        unwrap(escaped.as_bytes(), said(false, true), MAX).unwrap(),
        JSON
    );
    assert_eq!(
        unwrap(unescaped.as_bytes(), said(false, false), MAX).unwrap(),
        JSON
    );
}

#[test]
fn a_form_of_gzip_in_base64_and_a_form_of_plain_json_are_read() {
    let gzipped = base64::engine::general_purpose::STANDARD.encode(gzip(JSON));
    let form = |data: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", data)
            .finish()
    };
    let plain = form(std::str::from_utf8(JSON).unwrap());

    assert_eq!(
        unwrap(form(&gzipped).as_bytes(), said(false, true), MAX).unwrap(),
        JSON
    );
    assert_eq!(
        unwrap(plain.as_bytes(), said(false, true), MAX).unwrap(),
        JSON
    );
}

#[test]
fn a_gzip_bomb_is_too_large_once_its_cap_is_reached() {
    let bomb = gzip(&vec![b' '; 50 * MAX]);
    assert!(bomb.len() < MAX / 10);

    assert_eq!(
        unwrap(&bomb, said(true, false), MAX),
        Err(EnvelopeError::TooLarge(MAX))
    );
    assert_eq!(
        unwrap(JSON, said(false, false), JSON.len() - 1),
        Err(EnvelopeError::TooLarge(JSON.len() - 1))
    );
}

#[test]
fn a_gzip_body_whose_trailer_claims_gigabytes_is_malformed() {
    let mut lying = gzip(JSON);
    let at = lying.len() - 4;
    lying[at..].copy_from_slice(&u32::MAX.to_le_bytes());

    assert!(matches!(
        unwrap(&lying, said(true, false), MAX),
        Err(EnvelopeError::Malformed(_))
    ));
}

#[test]
fn broken_gzip_and_a_form_without_data_are_malformed() {
    let mut truncated = gzip(JSON);
    truncated.truncate(truncated.len() / 2);

    assert!(matches!(
        unwrap(&truncated, said(true, false), MAX),
        Err(EnvelopeError::Malformed(_))
    ));
    assert!(matches!(
        unwrap(b"other=1", said(false, true), MAX),
        Err(EnvelopeError::Malformed(_))
    ));
    assert!(matches!(
        unwrap(b"data=%%%not-base64", said(false, true), MAX),
        Err(EnvelopeError::Malformed(_))
    ));
}
