use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// Parses every datetime form Printernizer sends: ISO 8601 with `T` or a space, with or without
/// fractional seconds, naive (taken as UTC), with `Z` or with an offset (`+02:00`, `+0200`).
/// Truncated to the microsecond, as Postgres stores it, so a report's key is the same in memory
/// and on disk.
///
/// Hand-written because it runs four times per report on the hot path: chrono's format-driven
/// parsing of the same forms cost several microseconds per report (measured with perf).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.trim().as_bytes();
    if bytes.len() < 19 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let [b'-', b'-', b':', b':'] = [bytes[4], bytes[7], bytes[13], bytes[16]] else {
        return None;
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&bytes[0..4])?).ok()?,
        digits(&bytes[5..7])?,
        digits(&bytes[8..10])?,
    )?;
    let (hour, minute, second) = (
        digits(&bytes[11..13])?,
        digits(&bytes[14..16])?,
        digits(&bytes[17..19])?,
    );
    let mut rest = &bytes[19..];
    let mut micros = 0;
    if let [b'.', tail @ ..] = rest {
        let count = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        // Digits past the sixth are below Postgres' precision: dropped, not rounded.
        let kept = &tail[..count.min(6)];
        micros = digits(kept)? * 10u32.pow(6 - kept.len() as u32);
        rest = &tail[count..];
    }
    let offset_seconds = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let seconds = i64::from(digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    Some(date.and_time(time).and_utc() - Duration::seconds(offset_seconds))
}

/// ASCII digits as a number; `None` for anything else.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    #[test]
    fn every_form_printernizer_sends_is_accepted_as_the_same_instant() {
        let micro = chrono::Duration::microseconds(123_456);
        for (text, expected) in [
            ("2026-11-20 12:00:00.123456", noon() + micro),
            ("2026-11-20T12:00:00.123456", noon() + micro),
            ("2026-11-20 12:00:00", noon()),
            ("2026-11-20T12:00:00", noon()),
            ("2026-11-20T12:00:00Z", noon()),
            ("2026-11-20 12:00:00.123456Z", noon() + micro),
            ("2026-11-20T14:00:00+02:00", noon()),
            ("2026-11-20 14:00:00.123456+02:00", noon() + micro),
            ("2026-11-20T10:30:00-01:30", noon()),
            ("2026-11-20T14:00:00+0200", noon()),
            ("2026-11-20 12:00:00.123456789", noon() + micro),
            (
                "2026-11-20 12:00:00.5",
                noon() + chrono::Duration::milliseconds(500),
            ),
        ] {
            assert_eq!(parse_datetime(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_a_datetime_is_refused() {
        for text in [
            "",
            "yesterday",
            "2026-11-20",
            "2026-13-01 00:00:00",
            "12:00:00",
        ] {
            assert_eq!(parse_datetime(text), None, "{text}");
        }
    }
}
