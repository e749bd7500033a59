//! Rate limits on the collector: per client address, checked before a request is
//! read, and per site, checked once the body names the site. Over the limit, the
//! client gets 429 with `Retry-After`. Addresses are used here, in memory, and
//! never stored as they are (`anonymity` says what a site may keep of them).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::AppState;
use crate::config::ServerConfig;
use crate::error::ApiError;

/// The limiters of one server process.
pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_site: DefaultKeyedRateLimiter<String>,
    trusted_proxies: Vec<IpAddr>,
    writes: Arc<Semaphore>,
}

impl Limits {
    pub fn new(config: &ServerConfig) -> Limits {
        let quota = |per_second: u32| {
            Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
        };
        Limits {
            per_ip: RateLimiter::keyed(quota(config.rate_limit_per_ip)),
            per_site: RateLimiter::keyed(quota(config.rate_limit_per_site)),
            trusted_proxies: config.trusted_proxies.clone(),
            writes: Arc::new(Semaphore::new(config.max_waiting_writes)),
        }
    }

    /// A place in the queue for the database, or 503 when the queue is full. Hold
    /// it until the write is committed.
    pub fn write_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.writes
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded { retry_after: 1 })
    }

    /// Drops the buckets of clients and sites whose limit has fully recovered: they
    /// would start afresh anyway, and every address ever seen would otherwise keep
    /// one for the life of the process.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_site.retain_recent();
        self.per_site.shrink_to_fit();
    }

    /// Clients with a rate-limit bucket now.
    pub fn tracked_clients(&self) -> usize {
        self.per_ip.len()
    }

    /// Counts a request for the site; refuses it when the site is over its limit.
    pub fn check_site(&self, site: &str) -> Result<(), ApiError> {
        self.per_site
            .check_key(&site.to_owned())
            .map_err(|not_until| too_many(&not_until))
    }

    fn check_address(&self, address: IpAddr) -> Result<(), ApiError> {
        self.per_ip
            .check_key(&address)
            .map_err(|not_until| too_many(&not_until))
    }

    /// The client's address: the peer, or the last address a trusted proxy added
    /// to `X-Forwarded-For`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
            .unwrap_or(peer)
    }
}

/// The client's address, for a handler: the peer, or the client a trusted proxy
/// names. `None` when the request came without a socket (tests driving the app
/// directly).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The extractor rather than the extension: it also finds the address a
        // test gives with `MockConnectInfo`.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|info| info.0.ip());
        Ok(ClientAddress(
            peer.map(|peer| state.limits().client(peer, &parts.headers)),
        ))
    }
}

/// Middleware: refuses a client over its limit before its body is read.
pub async fn per_client(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let limits = state.limits();
        limits.check_address(limits.client(peer, request.headers()))?;
    }
    Ok(next.run(request).await)
}

fn too_many(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::TooManyRequests {
        retry_after: wait.as_secs() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32) -> Limits {
        Limits::new(&ServerConfig {
            rate_limit_per_ip: per_second,
            ..ServerConfig::default()
        })
    }

    #[test]
    fn a_client_still_limited_is_not_forgotten() {
        let limits = limits(1);
        let client = IpAddr::from([203, 0, 113, 7]);
        assert!(limits.check_address(client).is_ok());
        limits.forget_idle();
        assert_eq!(limits.tracked_clients(), 1);
        assert!(
            limits.check_address(client).is_err(),
            "forgetting the bucket would have reset the limit"
        );
    }

    #[test]
    fn clients_that_went_quiet_are_forgotten() {
        // A million a second: each bucket is full again a microsecond later.
        let limits = limits(1_000_000);
        for last in 1..=50 {
            assert!(
                limits
                    .check_address(IpAddr::from([203, 0, 113, last]))
                    .is_ok()
            );
        }
        assert_eq!(limits.tracked_clients(), 50);
        std::thread::sleep(std::time::Duration::from_millis(2));
        limits.forget_idle();
        assert_eq!(limits.tracked_clients(), 0);
    }
}
