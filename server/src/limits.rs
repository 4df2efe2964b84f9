//! Rate limits: per source address and per installation, both in memory (per instance).
//!
//! Both use governor's GCRA over a fixed-size state store (`HashedCells`): constant memory,
//! no locks, nothing to evict.
//!
//! Privacy: the source limiter never keeps an address. It keys on a hash of the address with
//! a random salt that lives only in memory and is replaced daily, so the server can throttle
//! a flood without being able to say who sent it.

use std::future::{ready, Ready};
use std::hash::{BuildHasher, Hash, RandomState};
use std::marker::PhantomData;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use ipnet::{IpNet, Ipv4Net};

use crate::domain::activity::{ClientId, Merge};
use crate::error::ApiError;

/// Rate-limit state in a fixed number of cells indexed by the key's hash, so memory stays the
/// same however many keys arrive. governor's own keyed stores keep an entry per key until
/// evicted: at 30,000 new installations a second, with a quota that takes an hour to refill,
/// that is millions of entries. Here a cell whose key went quiet simply holds a time in the
/// past, which GCRA reads as a full quota, so nothing needs evicting. Keys whose hashes meet
/// share a quota; with many more cells than keys active in one quota period that is rare, and
/// it can only limit sooner, never let more through.
struct HashedCells<K> {
    cells: Box<[AtomicU64]>,
    hasher: RandomState,
    key: PhantomData<fn(&K)>,
}

impl<K: Hash> HashedCells<K> {
    fn new(cells_log2: u32) -> Self {
        Self {
            cells: (0..1usize << cells_log2)
                .map(|_| AtomicU64::new(0))
                .collect(),
            hasher: RandomState::new(),
            key: PhantomData,
        }
    }
}

impl<K: Hash> StateStore for HashedCells<K> {
    type Key = K;

    /// governor's compare-and-swap protocol: 0 means "never measured".
    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // The mask keeps the index in range: the length is a power of two.
        let index = (self.hasher.hash_one(key) as usize) & (self.cells.len() - 1);
        let cell = &self.cells[index];
        let mut previous = cell.load(Ordering::Acquire);
        loop {
            let measured = NonZeroU64::new(previous).map(|nanos| Nanos::from(nanos.get()));
            let (outcome, next) = f(measured)?;
            match cell.compare_exchange_weak(
                previous,
                next.into(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(outcome),
                Err(current) => previous = current,
            }
        }
    }
}

/// A keyed limiter that may be switched off (a limit of 0).
struct Limiter<K: Hash> {
    inner: Option<RateLimiter<K, HashedCells<K>, DefaultClock>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(quota: Option<Quota>, cells_log2: u32) -> Self {
        let clock = DefaultClock::default();
        Self {
            inner: quota
                .map(|quota| RateLimiter::new(quota, HashedCells::new(cells_log2), clock.clone())),
            clock,
        }
    }

    /// `Err(wait)` when the key is over its quota.
    fn check(&self, key: &K) -> Result<(), Duration> {
        match &self.inner {
            Some(limiter) => limiter
                .check_key(key)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
            None => Ok(()),
        }
    }
}

/// A refusal by `limiter`, counted for the operator.
fn refused(limiter: &'static str, wait: Duration) -> ApiError {
    metrics::counter!("tally_rate_limited_total", "limiter" => limiter).increment(1);
    ApiError::RateLimited(wait)
}

/// A trusted proxy: an address or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
///
/// Addresses are compared in canonical form: an IPv4 peer reaching a dual-stack socket shows
/// up as `::ffff:a.b.c.d`, and must match the IPv4 range it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange(IpNet);

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let entry = text.trim();
        let range = match entry.parse::<IpNet>() {
            Ok(range) => range,
            Err(_) => entry
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("'{entry}' is not an IP address or CIDR range"))?,
        };
        Ok(Self(canonical_range(range)))
    }
}

impl IpRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&address.to_canonical())
    }
}

/// `::ffff:10.0.0.0/104` is `10.0.0.0/8`; a range wider than the mapped block stays IPv6.
fn canonical_range(range: IpNet) -> IpNet {
    if let IpNet::V6(v6) = range {
        let mapped_prefix = v6.prefix_len().checked_sub(96);
        if let (Some(v4), Some(prefix)) = (v6.addr().to_ipv4_mapped(), mapped_prefix) {
            if let Ok(v4) = Ipv4Net::new(v4, prefix) {
                return IpNet::V4(v4.trunc());
            }
        }
    }
    range.trunc()
}

/// 2^20 cells (8 MiB): far more than the installations that report within one hour.
const INSTALLATION_CELLS_LOG2: u32 = 20;
/// 2^18 cells (2 MiB) for the addresses seen within one minute.
const SOURCE_CELLS_LOG2: u32 = 18;

pub struct Limits {
    per_source: Limiter<u64>,
    /// Installations by a salted hash of product and id: a report's quota, and an event
    /// product's (whose clients send a request every few seconds).
    per_client: Limiter<u64>,
    per_event_client: Limiter<u64>,
    salt: RwLock<RandomState>,
    trusted_proxies: Vec<IpRange>,
}

impl Limits {
    /// Limits of 0 are off.
    pub fn new(
        per_source_per_minute: u32,
        per_installation_per_hour: u32,
        per_event_installation_per_hour: u32,
        trusted_proxies: Vec<IpRange>,
    ) -> Self {
        Self {
            per_source: Limiter::new(
                NonZeroU32::new(per_source_per_minute).map(Quota::per_minute),
                SOURCE_CELLS_LOG2,
            ),
            per_client: Limiter::new(
                NonZeroU32::new(per_installation_per_hour).map(Quota::per_hour),
                INSTALLATION_CELLS_LOG2,
            ),
            per_event_client: Limiter::new(
                NonZeroU32::new(per_event_installation_per_hour).map(Quota::per_hour),
                INSTALLATION_CELLS_LOG2,
            ),
            salt: RwLock::new(RandomState::new()),
            trusted_proxies,
        }
    }

    /// The per-installation quota: its events' (`Merge::Add`) or its reports'.
    pub fn check_client(
        &self,
        product: &str,
        installation: &ClientId,
        merge: Merge,
    ) -> Result<(), ApiError> {
        let limiter = match merge {
            Merge::Add => &self.per_event_client,
            Merge::Replace => &self.per_client,
        };
        limiter
            .check(&self.salted((product, installation)))
            .map_err(|wait| refused("installation", wait))
    }

    pub fn check_source(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.per_source.inner.is_none() {
            return Ok(());
        }
        let Some(address) = self.client_address(req) else {
            return Ok(());
        };
        let key = self.salted(address);
        self.per_source
            .check(&key)
            .map_err(|wait| refused("source", wait))
    }

    /// The peer address, or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not a trusted proxy (the leftmost entries are the client's
    /// to invent). Canonical: `::ffff:a.b.c.d`, from a dual-stack socket or a proxy, is
    /// `a.b.c.d`, so one client is one source however its address is written.
    fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip().to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .map(|address| address.to_canonical())
            .collect::<Vec<_>>();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|address| !self.is_trusted(*address))
                .unwrap_or(peer),
        )
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|range| range.contains(address))
    }

    fn salted(&self, value: impl Hash) -> u64 {
        match self.salt.read() {
            Ok(salt) => salt.hash_one(value),
            Err(poisoned) => poisoned.into_inner().hash_one(value),
        }
    }

    /// Daily: a new salt, so yesterday's hashes cannot be linked to today's.
    pub fn rotate_salt(&self) {
        let fresh = RandomState::new();
        match self.salt.write() {
            Ok(mut salt) => *salt = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }
}

/// Proof that the request's source is within its per-minute quota.
pub struct SourceAllowed;

impl FromRequest for SourceAllowed {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.app_data::<web::Data<Limits>>() {
            Some(limits) => limits.check_source(req).map(|()| SourceAllowed),
            None => Err(ApiError::Internal(
                "limits are not configured in the app".into(),
            )),
        })
    }
}

#[cfg(test)]
mod tests;
