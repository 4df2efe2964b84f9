//! API keys: ingest keys for installations, admin keys for maintainers. Never logged, never
//! echoed; compared in constant time.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::Secret;
use crate::domain::{Catalog, Format, Identifier, KeyPolicy, Product, PRINTERNIZER};
use crate::error::ApiError;
use crate::limits::Limits;

pub const API_KEY_HEADER: &str = "x-api-key";

/// The product whose ingest keys a route accepts, set on the route where it is mounted.
#[derive(Debug, Clone, Copy)]
pub struct RouteProduct(pub &'static str);

/// The wire format a catalog route reads. Its product is the key's; without a key, the
/// keyless product of that format the query names (`?product=`), or the first one declared.
#[derive(Debug, Clone, Copy)]
pub struct RouteFormat(pub Format);

/// The product a request to a catalog route is for, proven by its key or by needing none.
/// Kept in the request's extensions too, so that its outcome is counted under it.
#[derive(Debug, Clone, Copy)]
pub struct Served(pub &'static Product);

/// An ingest key and the product it belongs to.
struct IngestEntry {
    product: &'static str,
    key: Secret,
}

pub struct Keys {
    ingest: Vec<IngestEntry>,
    admin: Vec<Secret>,
    /// Products declared `key = "none"`: their routes need no key.
    keyless: Vec<&'static str>,
}

/// Why `TALLY_INGEST_KEYS` was refused. Never shows a key, nor a prefix (a bare key may
/// contain a colon, and then its start would be shown).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "TALLY_INGEST_KEYS: entry {entry} starts with a product that is not declared \
         (declared: {declared}); an entry is `product:key` or a bare key (Printernizer's)"
    )]
    UnknownProduct { entry: usize, declared: String },
    #[error("TALLY_INGEST_KEYS: entries {first} and {second} are the same key for two products")]
    Shared { first: usize, second: usize },
}

impl Keys {
    /// Ingest entries are `product:key` or a bare key, which is Printernizer's. Empty entries
    /// (`TALLY_INGEST_KEYS=a,,b` or an empty variable) are not keys.
    pub fn new(
        ingest: &[Secret],
        admin: &[Secret],
        catalog: &'static Catalog,
    ) -> Result<Self, KeysError> {
        let mut entries: Vec<(usize, IngestEntry)> = Vec::new();
        for (index, entry) in ingest.iter().enumerate() {
            let entry_number = index + 1;
            let (product, key) = match entry.expose().split_once(':') {
                Some((prefix, key)) => {
                    let product = catalog.product(prefix.trim()).ok_or_else(|| {
                        KeysError::UnknownProduct {
                            entry: entry_number,
                            declared: declared(catalog),
                        }
                    })?;
                    (product.name(), key)
                }
                None => (PRINTERNIZER, entry.expose()),
            };
            let Ok(key) = key.parse::<Secret>() else {
                continue;
            };
            if key.expose().is_empty() {
                continue;
            }
            if let Some((first, _)) = entries
                .iter()
                .find(|(_, known)| known.key == key && known.product != product)
            {
                return Err(KeysError::Shared {
                    first: *first,
                    second: entry_number,
                });
            }
            entries.push((entry_number, IngestEntry { product, key }));
        }
        Ok(Self {
            ingest: entries.into_iter().map(|(_, entry)| entry).collect(),
            admin: admin
                .iter()
                .filter(|key| !key.expose().is_empty())
                .cloned()
                .collect(),
            keyless: catalog
                .products()
                .iter()
                .filter(|product| product.key() == KeyPolicy::None)
                .map(|product| product.name())
                .collect(),
        })
    }

    pub fn has_ingest_key(&self) -> bool {
        !self.ingest.is_empty()
    }

    /// The product `presented` is an ingest key of. Every key is compared, so the time taken
    /// says neither which key came close nor which product it belongs to.
    pub fn product_of(&self, presented: &str) -> Option<&'static str> {
        let mut found: u64 = 0;
        for (index, entry) in (1..).zip(&self.ingest) {
            let matches = entry.key.expose().as_bytes().ct_eq(presented.as_bytes());
            found.conditional_assign(&index, matches);
        }
        let index = usize::try_from(found).ok()?.checked_sub(1)?;
        self.ingest
            .get(index)
            .filter(|_| !presented.is_empty())
            .map(|entry| entry.product)
    }
}

impl Keys {
    /// Whether `presented` lets a client act for `product`: one of its keys, or none needed.
    /// A valid key of another product is 403.
    fn admits(&self, product: &str, presented: &str) -> Result<(), ApiError> {
        if self.keyless.contains(&product) {
            return Ok(());
        }
        match self.product_of(presented) {
            Some(owner) if owner == product => Ok(()),
            Some(_) => Err(ApiError::Forbidden),
            None => Err(ApiError::Unauthorized),
        }
    }

    /// The product of a request to a route reading `format` that presents `presented` (empty
    /// when none) and names `named` (`?product=`, if any). A valid key of a product of another
    /// format, or of another product than the one named, is 403.
    pub fn served(
        &self,
        catalog: &'static Catalog,
        format: Format,
        presented: &str,
        named: Option<&str>,
    ) -> Result<&'static Product, ApiError> {
        if !presented.is_empty() {
            let name = self.product_of(presented).ok_or(ApiError::Unauthorized)?;
            return catalog
                .product(name)
                .filter(|product| product.format() == format)
                .filter(|_| named.is_none_or(|named| named == name))
                .ok_or(ApiError::Forbidden);
        }
        catalog
            .products()
            .iter()
            .filter(|product| product.format() == format && product.key() == KeyPolicy::None)
            .find(|product| named.is_none_or(|named| named == product.name()))
            .ok_or(ApiError::Unauthorized)
    }
}

fn declared(catalog: &Catalog) -> String {
    let names: Vec<&str> = catalog.products().iter().map(|p| p.name()).collect();
    names.join(", ")
}

/// Checks every key, so the time taken does not say which key came close.
fn any_matches(keys: &[Secret], presented: &str) -> bool {
    let found = keys.iter().fold(subtle::Choice::from(0), |found, key| {
        found | key.expose().as_bytes().ct_eq(presented.as_bytes())
    });
    !presented.is_empty() && bool::from(found)
}

fn keys(req: &HttpRequest) -> Result<&Keys, ApiError> {
    req.app_data::<web::Data<Keys>>()
        .map(|keys| keys.get_ref())
        .ok_or_else(|| ApiError::Internal("keys are not configured in the app".into()))
}

fn api_key(req: &HttpRequest) -> &str {
    req.headers()
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Proof that the request carries an ingest key of the route's product (`RouteProduct`), or
/// that the product needs none. A valid key of another product is 403. As the first
/// extractor of a handler it runs before the body is read, so an unauthenticated request
/// costs us nothing.
pub struct IngestKey;

impl FromRequest for IngestKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| {
            let served = req
                .app_data::<web::Data<RouteProduct>>()
                .map(|route| route.0)
                .ok_or_else(|| ApiError::Internal("a route serves no product".into()))?;
            keys.admits(served, api_key(req)).map(|()| IngestKey)
        }))
    }
}

/// The product `?product=` names (Printernizer without it), proven by one of its ingest keys
/// or by needing none: who may read and erase an installation's rows. For a keyless product,
/// holding the client's random id is the proof, as the key every Printernizer client ships is.
pub struct ProductKey(pub &'static Product);

impl FromRequest for ProductKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| {
            let catalog = req
                .app_data::<web::Data<&'static Catalog>>()
                .ok_or_else(|| ApiError::Internal("the catalog is not in the app".into()))?;
            let named = named_product(req);
            let product = declared_product(catalog, named.as_deref().unwrap_or(PRINTERNIZER))?;
            keys.admits(product.name(), api_key(req))
                .map(|()| ProductKey(product))
        }))
    }
}

/// The declared product `name` (trimmed); an undeclared one is a 404 that echoes the name only
/// when it is a plain identifier.
pub fn declared_product(
    catalog: &'static Catalog,
    name: &str,
) -> Result<&'static Product, ApiError> {
    let name = name.trim();
    catalog.product(name).ok_or_else(|| {
        if Identifier::is_valid(name) {
            ApiError::UnknownProduct(name.to_owned())
        } else {
            ApiError::NotFound("No such product is declared")
        }
    })
}

impl FromRequest for Served {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| served(req, keys, api_key(req))))
    }
}

/// The product of a catalog route's request presenting `presented` (the header's key, or a
/// key the body carries).
pub fn served(req: &HttpRequest, keys: &Keys, presented: &str) -> Result<Served, ApiError> {
    let (Some(format), Some(catalog)) = (
        req.app_data::<web::Data<RouteFormat>>(),
        req.app_data::<web::Data<&'static Catalog>>(),
    ) else {
        return Err(ApiError::Internal("a catalog route has no format".into()));
    };
    let named = named_product(req);
    let served = Served(keys.served(catalog, format.0, presented, named.as_deref())?);
    req.extensions_mut().insert(served);
    Ok(served)
}

#[derive(serde::Deserialize)]
struct NamedProduct {
    product: Option<String>,
}

/// `?product=`, if the query names one.
fn named_product(req: &HttpRequest) -> Option<String> {
    web::Query::<NamedProduct>::from_query(req.query_string())
        .ok()
        .and_then(|query| query.into_inner().product)
}

/// Proof that the request carries an admin key (`X-API-Key` or `Authorization: Bearer`).
/// An ingest key here is 403: the caller is known but may not read the aggregates. A refused
/// request counts against its source's quota (429 past it), so keys cannot be guessed at speed;
/// requests with an admin key are not limited.
pub struct AdminKey;

impl FromRequest for AdminKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(keys(req).and_then(|keys| {
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("");
            let presented = [api_key(req), bearer.trim()];
            if presented.iter().any(|key| any_matches(&keys.admin, key)) {
                return Ok(AdminKey);
            }
            if let Some(limits) = req.app_data::<web::Data<Limits>>() {
                limits.check_source(req)?;
            }
            if presented.iter().any(|key| keys.product_of(key).is_some()) {
                Err(ApiError::Forbidden)
            } else {
                Err(ApiError::Unauthorized)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|key| key.parse().unwrap()).collect()
    }

    fn catalog() -> &'static Catalog {
        static BUILT_IN: OnceLock<Catalog> = OnceLock::new();
        BUILT_IN.get_or_init(|| Catalog::load(None).expect("the built-in catalog loads"))
    }

    fn ingest(list: &[&str]) -> Result<Keys, KeysError> {
        Keys::new(&secrets(list), &[], catalog())
    }

    #[test]
    fn a_key_matches_only_when_it_is_exactly_one_of_the_keys() {
        let keys = secrets(&["alpha", "beta"]);
        assert!(any_matches(&keys, "beta"));
        assert!(!any_matches(&keys, "bet"));
        assert!(!any_matches(&keys, "betaa"));
        assert!(!any_matches(&keys, ""));
    }

    #[test]
    fn empty_entries_are_not_keys() {
        let keys = ingest(&["", " ", "stories:"]).unwrap();
        assert!(!keys.has_ingest_key());
        assert_eq!(keys.product_of(""), None);
    }

    #[test]
    fn a_key_belongs_to_its_prefix_and_a_bare_key_to_printernizer() {
        let keys = ingest(&["printernizer:k1", "k2", "stories:k3"]).unwrap();

        assert_eq!(keys.product_of("k1"), Some("printernizer"));
        assert_eq!(keys.product_of("k2"), Some("printernizer"));
        assert_eq!(keys.product_of("k3"), Some("stories"));
        assert_eq!(keys.product_of("k"), None);
        assert_eq!(keys.product_of("stories:k3"), None);
    }

    #[test]
    fn a_prefix_naming_no_product_is_refused_without_showing_the_entry() {
        let refused = ingest(&["k1", "nosuch:secret-part"])
            .err()
            .expect("refused");
        let message = refused.to_string();

        assert!(message.contains("entry 2"), "{message}");
        assert!(message.contains("printernizer, stories"), "{message}");
        assert!(!message.contains("nosuch"), "{message}");
        assert!(!message.contains("secret-part"), "{message}");
    }

    #[test]
    fn one_key_for_two_products_is_refused() {
        let refused = ingest(&["k1", "stories:k1"]).err().expect("refused");

        assert!(matches!(
            refused,
            KeysError::Shared {
                first: 1,
                second: 2
            }
        ));
    }

    #[test]
    fn keyless_products_are_the_ones_declared_without_a_key() {
        let keys = ingest(&["k1"]).unwrap();

        assert_eq!(keys.keyless, vec!["stories"]);
    }
}
