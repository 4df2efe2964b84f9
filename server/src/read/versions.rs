//! Semantic order of the versions Printernizer sends (`git describe` output): `2.41.2` <
//! `2.41.2-3-gabc1234` (three commits later) < `2.42.0`; a bare commit hash sorts below every
//! numbered version.

use std::cmp::Ordering;

/// (numbers, commits after the tag, text): compares as the release order.
fn key(version: &str) -> (Vec<u64>, u64, &str) {
    let mut parts = version.split('-');
    let head = parts.next().unwrap_or("");
    let numbers: Option<Vec<u64>> = head
        .trim_start_matches('v')
        .split('.')
        .map(|n| n.parse().ok())
        .collect();
    let Some(numbers) = numbers.filter(|n| !n.is_empty()) else {
        return (Vec::new(), 0, version);
    };
    let commits = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (numbers, commits, version)
}

pub fn semantic_cmp(a: &str, b: &str) -> Ordering {
    key(a).cmp(&key(b))
}

/// The highest version by semantic order.
pub fn highest<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    versions.into_iter().max_by(|a, b| semantic_cmp(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_is_by_release_order_not_by_text() {
        let versions = [
            "2.9.0",
            "2.41.2",
            "2.41.2-3-gabc1234",
            "abc1234",
            "2.41.2-dirty",
        ];
        assert_eq!(highest(versions), Some("2.41.2-3-gabc1234"));
        assert_eq!(semantic_cmp("2.10.0", "2.9.9"), Ordering::Greater);
        assert_eq!(semantic_cmp("abc1234", "0.0.1"), Ordering::Less);
    }
}
