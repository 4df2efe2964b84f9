use super::*;

#[test]
fn the_url_form_loses_only_the_tls_settings() {
    let (rest, mode, root) = take_tls_settings(
        "postgres://u:secret@db:5432/tally?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
    );

    assert_eq!(rest, "postgres://u:secret@db:5432/tally?application_name=x");
    assert_eq!(mode.as_deref(), Some("verify-full"));
    assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
}

#[test]
fn the_url_form_loses_its_query_when_only_tls_settings_were_in_it() {
    let (rest, mode, _) = take_tls_settings("postgresql://db/tally?sslmode=require");

    assert_eq!(rest, "postgresql://db/tally");
    assert_eq!(mode.as_deref(), Some("require"));
}

#[test]
fn the_keyword_form_loses_only_the_tls_settings() {
    let (rest, mode, root) = take_tls_settings(
        "host=db sslmode = verify-ca password='a b\\'c' sslrootcert='/my certs/ca.pem' user=u",
    );

    assert_eq!(rest, "host=db password='a b\\'c' user=u");
    assert_eq!(mode.as_deref(), Some("verify-ca"));
    assert_eq!(root.as_deref(), Some("/my certs/ca.pem"));
}

#[test]
fn an_unknown_sslmode_is_named_and_the_password_is_not() {
    let error = connector(
        "DATABASE_URL",
        "postgres://u:hunter2@db/tally?sslmode=verify",
    )
    .err()
    .expect("refused");

    let text = format!("{error:#}");
    assert!(
        text.contains("DATABASE_URL: sslmode=verify is not one of"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_missing_sslrootcert_file_is_named() {
    let error = connector(
        "TALLY_READ_DATABASE_URL",
        "postgres://u:hunter2@db/tally?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    )
    .err()
    .expect("refused");

    let text = format!("{error:#}");
    assert!(
        text.contains(
            "TALLY_READ_DATABASE_URL: cannot read the sslrootcert file /nonexistent/ca.pem"
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn sslrootcert_system_refuses_a_weaker_mode_as_libpq_does() {
    let error = connector(
        "DATABASE_URL",
        "postgres://db/tally?sslmode=require&sslrootcert=system",
    )
    .err()
    .expect("refused");

    assert!(error.to_string().contains("use verify-full"), "{error}");
}

#[test]
fn an_option_tokio_postgres_does_not_know_is_named() {
    let error = connector("DATABASE_URL", "postgres://db/tally?sslcert=/client.pem")
        .err()
        .expect("refused");

    assert!(
        error.to_string().contains("unknown option `sslcert`"),
        "{error}"
    );
}

#[test]
fn disable_and_require_set_the_wire_mode() {
    let (disable, _) = connector("DATABASE_URL", "postgres://db/tally?sslmode=disable").unwrap();
    let (require, _) = connector("DATABASE_URL", "host=db sslmode=require").unwrap();
    let (default, _) = connector("DATABASE_URL", "postgres://db/tally").unwrap();

    assert_eq!(disable.get_ssl_mode(), WireMode::Disable);
    assert_eq!(require.get_ssl_mode(), WireMode::Require);
    assert_eq!(default.get_ssl_mode(), WireMode::Prefer);
}

#[test]
fn a_name_matches_its_host_whatever_the_case() {
    assert!(verifier::host_matches("DB.example.org", "db.EXAMPLE.org"));
    assert!(!verifier::host_matches("db.example.org", "db2.example.org"));
}

#[test]
fn a_wildcard_name_stands_for_exactly_one_label_as_in_libpq() {
    assert!(verifier::host_matches("*.example.org", "db.example.org"));
    assert!(!verifier::host_matches("*.example.org", "a.db.example.org"));
    assert!(!verifier::host_matches("*.example.org", "example.org"));
    assert!(!verifier::host_matches("*.example.org", ".example.org"));
}
