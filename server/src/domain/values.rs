use std::fmt;

use super::countries::{COUNTRIES, UNKNOWN};

/// An installation's random UUID: the only identity a report carries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
pub struct InstallationId(uuid::Uuid);

impl InstallationId {
    /// What an id that does not parse is told, wherever one is refused.
    pub const RULE: &'static str = "must be a UUID";

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

    /// The identifier rule for a value of an event or telemetry format: kept when it passes;
    /// else its leading word, lowercased, when that is an identifier (`tou --set` -> `tou`,
    /// `NetworkError` -> `networkerror`); else `other`. A value that looks like an address, a
    /// path or an e-mail is `other` whole: no piece of it is kept (never `alice` from
    /// `alice@example.com`, never `alice_example_com`).
    pub fn reduce(text: &str) -> Ruled {
        if Self::is_valid(text) {
            return Ruled::Kept(text.to_owned());
        }
        if !reducible(text) {
            return Ruled::Other;
        }
        let word = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if Self::is_valid(&word) {
            Ruled::Reduced(word)
        } else {
            Ruled::Other
        }
    }
}

/// What a rule made of a value an event or telemetry format sent. `/submit`'s report refuses
/// an off-rule value instead (`submission.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ruled {
    /// The value passed its rule as it came.
    Kept(String),
    /// The part of the value the rule admits, taken whole from it: never more than the rule
    /// admits, never pieced together.
    Reduced(String),
    /// Nothing of it could be kept safely: stored as `other`.
    Other,
}

/// Longer than this, an off-rule value is free text rather than a token with a prefix: nothing
/// of it is kept.
const MAX_REDUCIBLE_LEN: usize = 128;

/// Whether an off-rule value may be reduced at all: short, and without the marks of an
/// address, a path or an e-mail (`@`, `/`, `\`), which make it `other` whole.
fn reducible(text: &str) -> bool {
    text.len() <= MAX_REDUCIBLE_LEN && !text.contains(['@', '/', '\\'])
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
        (1..=Self::MAX_LEN).contains(&text.len()) && text.bytes().all(Self::is_version_byte)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The version rule for a value of an event or telemetry format: kept when it passes and
    /// has no `v` before its number; else its first version-shaped token (a digit first,
    /// after an optional `v`), without the `v` (`macOS 14.1` -> `14.1`, `v0.9.7` -> `0.9.7`);
    /// else `other`. Address-, path- and e-mail-looking values are `other` whole.
    pub fn reduce(text: &str) -> Ruled {
        if Self::is_valid(text) && unprefixed(text) == text {
            return Ruled::Kept(text.to_owned());
        }
        if !reducible(text) {
            return Ruled::Other;
        }
        text.split(|c: char| !c.is_ascii() || !Self::is_version_byte(c as u8))
            .map(unprefixed)
            .find(|token| token.starts_with(|c: char| c.is_ascii_digit()) && Self::is_valid(token))
            .map_or(Ruled::Other, |token| Ruled::Reduced(token.to_owned()))
    }

    fn is_version_byte(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+')
    }
}

/// `token` without a `v` or `V` right before a digit (`v0.9.7` -> `0.9.7`).
fn unprefixed(token: &str) -> &str {
    match token.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => token,
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

    /// The country rule for a value of an event or telemetry format: two letters (surrounding
    /// blanks trimmed), else `other`.
    pub fn reduce(text: &str) -> Ruled {
        match (Self::parse(text), Self::parse(text.trim())) {
            (Some(code), _) => Ruled::Kept(code.as_str().to_owned()),
            (None, Some(code)) => Ruled::Reduced(code.as_str().to_owned()),
            (None, None) => Ruled::Other,
        }
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

    fn reduced(text: &str) -> Ruled {
        Ruled::Reduced(text.to_owned())
    }

    #[test]
    fn a_version_keeps_its_first_version_shaped_token_without_a_v() {
        for (sent, kept) in [
            ("macOS 14.1", "14.1"),
            ("v0.9.7", "0.9.7"),
            ("V2", "2"),
            ("Windows 10.0.19045", "10.0.19045"),
            ("Darwin Kernel Version 23.1.0: Mon Oct  9", "23.1.0"),
            ("Ubuntu 24.04 LTS", "24.04"),
            ("14.1 (23B74)", "14.1"),
        ] {
            assert_eq!(Version::reduce(sent), reduced(kept), "{sent}");
        }
    }

    #[test]
    fn a_version_that_passes_its_rule_is_kept_as_it_came() {
        for sent in ["2.41.2-3-gabc1234", "abc1234", "vim", "14.2", "macOS"] {
            assert_eq!(
                Version::reduce(sent),
                Ruled::Kept(sent.to_owned()),
                "{sent}"
            );
        }
    }

    #[test]
    fn a_version_without_a_version_shaped_token_or_shaped_like_an_address_is_other() {
        for sent in [
            "",
            "unknown build",
            "alice@example.com 1.2",
            "1234@example.com",
            "/Users/alice/1.2.3",
            r"C:\Users\alice 2.0",
            "http://10.0.0.1/",
            &format!("{} 1.0", "x".repeat(200)),
            &format!("1{}", "0".repeat(40)),
        ] {
            assert_eq!(Version::reduce(sent), Ruled::Other, "{sent}");
        }
    }

    #[test]
    fn an_identifier_keeps_its_leading_word_lowercased() {
        assert_eq!(Identifier::reduce("tou --set"), reduced("tou"));
        assert_eq!(Identifier::reduce("NetworkError"), reduced("networkerror"));
        assert_eq!(Identifier::reduce("  dark_mode on"), reduced("dark_mode"));
        assert_eq!(
            Identifier::reduce("bambu_lab"),
            Ruled::Kept("bambu_lab".to_owned())
        );
    }

    #[test]
    fn an_identifier_is_never_pieced_together_from_an_address_or_a_path() {
        for sent in [
            "alice@example.com",
            "alice example@mail.com",
            "/home/alice",
            "alice/prints",
            r"C:\Users\alice",
            "192.168.1.10",
            "tou--set",
            "dark-mode",
            "élan",
            "",
            "   ",
            &"x".repeat(49),
            &format!("tou {}", "x".repeat(200)),
        ] {
            assert_eq!(Identifier::reduce(sent), Ruled::Other, "{sent}");
        }
    }

    #[test]
    fn a_country_is_trimmed_and_anything_but_two_letters_is_other() {
        assert_eq!(CountryCode::reduce("de"), Ruled::Kept("DE".to_owned()));
        assert_eq!(CountryCode::reduce(" de "), reduced("DE"));
        assert_eq!(CountryCode::reduce("Germany"), Ruled::Other);
        assert_eq!(CountryCode::reduce("D1"), Ruled::Other);
    }
}
