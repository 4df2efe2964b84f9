use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Parses every datetime form Printernizer sends: ISO 8601 with `T` or a space, with or without
/// fractional seconds, naive (taken as UTC), with `Z` or with an offset. Truncated to the
/// microsecond, as Postgres stores it, so a report's key is the same in memory and on disk.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    parse_any(text.trim()).map(|instant| instant.trunc_subsecs(6))
}

fn parse_any(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(zoned) = DateTime::parse_from_rfc3339(text) {
        return Some(zoned.with_timezone(&Utc));
    }
    // `%.f` also matches an absent fraction.
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ]
    .iter()
    .find_map(|format| {
        NaiveDateTime::parse_from_str(text, format)
            .map(|naive| naive.and_utc())
            .ok()
            .or_else(|| {
                DateTime::parse_from_str(text, format)
                    .ok()
                    .map(|zoned| zoned.with_timezone(&Utc))
            })
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
