use std::fmt;

use super::countries::{COUNTRIES, UNKNOWN};

/// An installation's random UUID: the only identity a report carries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
pub struct InstallationId(uuid::Uuid);

impl InstallationId {
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::try_parse(text).ok().map(Self)
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl From<uuid::Uuid> for InstallationId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A plain identifier (lowercase letters, digits, `_`; short). Free-form keys must be one, so
/// that no address, e-mail, path or serial number can ride in a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Identifier(String);

impl Identifier {
    pub const MAX_LEN: usize = 48;

    pub fn parse(text: &str) -> Option<Self> {
        Self::is_valid(text).then(|| Self(text.to_owned()))
    }

    pub fn is_valid(text: &str) -> bool {
        (1..=Self::MAX_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A version token such as `2.41.2`, `2.41.2-3-gabc1234`, `2.41.2-dirty` or a bare short hash.
/// No spaces, `@` or `/`, so it cannot carry an e-mail or a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    pub const MAX_LEN: usize = 40;

    pub fn parse(text: &str) -> Option<Self> {
        Self::is_valid(text).then(|| Self(text.to_owned()))
    }

    pub fn is_valid(text: &str) -> bool {
        (1..=Self::MAX_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An ISO 3166-1 alpha-2 code, or `XX` for unknown. A well-formed code that ISO has not
/// assigned is kept as `XX`, so newer clients never lose a report over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode(&'static str);

impl CountryCode {
    /// `None` when the text is not two ASCII letters.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let upper = text.to_ascii_uppercase();
        let code = COUNTRIES
            .binary_search_by(|(code, _)| (*code).cmp(upper.as_str()))
            .map_or(UNKNOWN, |at| COUNTRIES[at].0);
        Some(Self(code))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// The English short name of a stored country code (`DE` -> `Germany`, `XX` -> `Unknown`).
pub fn country_name(code: &str) -> &'static str {
    COUNTRIES
        .binary_search_by(|(known, _)| (*known).cmp(code))
        .map_or("Unknown", |at| COUNTRIES[at].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_anything_that_could_carry_an_address_or_a_path() {
        for bad in [
            "",
            "Bambu",
            "a.b",
            "me@example.com",
            "/home/user",
            "192.168.1.10",
            "a b",
            &"x".repeat(49),
        ] {
            assert!(Identifier::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Identifier::parse("bambu_lab").unwrap().as_str(),
            "bambu_lab"
        );
    }

    #[test]
    fn versions_from_git_describe_are_accepted_and_paths_are_not() {
        for good in [
            "2.41.2",
            "2.41.2-3-gabc1234",
            "2.41.2-dirty",
            "abc1234",
            "2.7.0",
        ] {
            assert!(Version::parse(good).is_some(), "{good}");
        }
        for bad in ["", "2.41 2", "me@example.com", "../etc", &"1".repeat(41)] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn country_codes_are_uppercased_and_unassigned_ones_become_unknown() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert_eq!(CountryCode::parse("XX").unwrap().as_str(), "XX");
        assert_eq!(CountryCode::parse("QQ").unwrap().as_str(), "XX");
        assert!(CountryCode::parse("D1").is_none());
        assert!(CountryCode::parse("DEU").is_none());
        assert_eq!(country_name("DE"), "Germany");
        assert_eq!(country_name("XX"), "Unknown");
    }
}
