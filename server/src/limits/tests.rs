use super::*;
use crate::domain::activity::ClientId;
use crate::domain::InstallationId;

fn range(text: &str) -> IpRange {
    text.parse().unwrap()
}

fn address(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn cidr_ranges_contain_their_addresses_and_no_others() {
    let range = range("10.1.0.0/16");
    assert!(range.contains(address("10.1.200.3")));
    assert!(!range.contains(address("10.2.0.1")));
    assert!(!range.contains(address("::1")));
    let single = self::range("127.0.0.1");
    assert!(single.contains(address("127.0.0.1")));
    assert!(!single.contains(address("127.0.0.2")));
    assert!(self::range("0.0.0.0/0").contains(address("8.8.8.8")));
    assert!(self::range("fd00::/8").contains(address("fd12::1")));
    assert!(!self::range("fd00::/8").contains(address("fe80::1")));
}

#[test]
fn an_ipv4_mapped_address_is_in_the_ipv4_range_it_maps_to() {
    let range = range("10.0.0.0/8");
    assert!(range.contains(address("::ffff:10.0.0.1")));
    assert!(!range.contains(address("::ffff:11.0.0.1")));
    assert!(
        !range.contains(address("::10.0.0.1")),
        "IPv4-compatible is not mapped"
    );
}

#[test]
fn a_range_written_as_ipv4_mapped_holds_the_ipv4_addresses_it_maps() {
    let range = range("::ffff:10.0.0.0/104");
    assert_eq!(range, self::range("10.0.0.0/8"));
    assert!(range.contains(address("10.200.0.1")));
    assert!(range.contains(address("::ffff:10.200.0.1")));
    assert_eq!(self::range("::ffff:192.0.2.1"), self::range("192.0.2.1"));
}

#[test]
fn a_trusted_proxy_entry_that_is_neither_address_nor_range_is_refused_by_name() {
    for bad in ["proxy", "10.0.0.0/33", "fd00::/129", "10.0.0/8", ""] {
        let error = bad.parse::<IpRange>().unwrap_err();
        assert!(error.contains(&format!("'{bad}'")), "{error}");
    }
}

fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
    let mut request = actix_web::test::TestRequest::default().peer_addr(peer.parse().unwrap());
    if let Some(forwarded) = forwarded {
        request = request.insert_header(("X-Forwarded-For", forwarded));
    }
    request.to_http_request()
}

fn trusting(ranges: &[&str]) -> Limits {
    Limits::new(1, 0, 0, ranges.iter().map(|text| range(text)).collect())
}

#[test]
fn a_trusted_proxy_connecting_ipv4_mapped_has_its_forwarded_address_believed() {
    let limits = trusting(&["10.0.0.0/8"]);

    let client = limits.client_address(&request("[::ffff:10.0.0.1]:443", Some("203.0.113.5")));

    assert_eq!(client, Some(address("203.0.113.5")));
}

#[test]
fn an_untrusted_peer_is_the_source_whatever_it_forwards() {
    let limits = trusting(&["10.0.0.0/8"]);

    let mapped = limits.client_address(&request("[::ffff:192.0.2.9]:443", Some("203.0.113.5")));
    let plain = limits.client_address(&request("192.0.2.9:443", Some("203.0.113.5")));

    assert_eq!(mapped, Some(address("192.0.2.9")));
    assert_eq!(plain, Some(address("192.0.2.9")));
}

#[test]
fn forwarded_entries_are_canonical_and_trusted_hops_written_mapped_are_skipped() {
    let limits = trusting(&["10.0.0.0/8"]);

    let client = limits.client_address(&request(
        "10.0.0.1:443",
        Some("198.51.100.1, ::ffff:203.0.113.5, ::ffff:10.0.0.2"),
    ));

    assert_eq!(client, Some(address("203.0.113.5")));
}

#[test]
fn one_client_written_mapped_or_plain_shares_one_quota() {
    let limits = trusting(&["10.0.0.1"]);

    let plain = limits.check_source(&request("10.0.0.1:443", Some("203.0.113.5")));
    let mapped = limits.check_source(&request("10.0.0.1:443", Some("::ffff:203.0.113.5")));

    assert!(plain.is_ok());
    assert!(matches!(mapped, Err(ApiError::RateLimited(_))));
}

#[test]
fn an_installation_over_its_quota_is_told_how_long_to_wait() {
    let limits = Limits::new(0, 2, 0, Vec::new());
    let id = ClientId::from(InstallationId::from(uuid::Uuid::from_u128(7)));
    let check = |id| limits.check_client("printernizer", id, Merge::Replace);
    assert!(check(&id).is_ok());
    assert!(check(&id).is_ok());
    match check(&id) {
        Err(ApiError::RateLimited(wait)) => assert!(wait > Duration::from_secs(60)),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    let other = ClientId::from(InstallationId::from(uuid::Uuid::from_u128(8)));
    assert!(check(&other).is_ok());
}

#[test]
fn an_event_products_installation_has_its_own_larger_quota_and_a_daily_reports_the_reports_one() {
    let limits = Limits::new(0, 1, 3, Vec::new());
    let id = crate::domain::activity::ClientId::parse("user_aaaaaaaa").expect("an id");

    let events: Vec<bool> = (0..4)
        .map(|_| limits.check_client("stories", &id, Merge::Add).is_ok())
        .collect();
    let reports: Vec<bool> = (0..2)
        .map(|_| {
            limits
                .check_client("indexpilot", &id, Merge::Replace)
                .is_ok()
        })
        .collect();

    assert_eq!(events, [true, true, true, false]);
    assert_eq!(reports, [true, false]);
}

#[test]
fn keys_that_share_a_cell_share_its_quota_so_a_collision_only_limits_sooner() {
    let one_cell = Limiter::new(NonZeroU32::new(3).map(Quota::per_hour), 0);
    for key in 1..=3u64 {
        assert!(one_cell.check(&key).is_ok(), "key {key}");
    }
    assert!(one_cell.check(&4u64).is_err());
}
