//! What stands in for identifiers the server must not keep. A cookieless site's
//! visitor id is a hash of the day's salt, the site, the client's address and its
//! browser; an address kept with a visitor is truncated or hashed with the day's
//! salt. The salt is random for each UTC day, kept in the database so that every
//! server process uses the same one, and deleted when the day is over: from then
//! on no hash of that day can be tied to an address again.
//!
//! Also here: the visitor's own request not to be tracked (`DNT`, `Sec-GPC`).

use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::IpStorage;
use crate::store::{Store, salts};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The day's salt, fetched from the database once a day per process.
pub struct Salts {
    store: Store,
    today: Mutex<Option<(i64, Vec<u8>)>>,
}

impl Salts {
    pub fn new(store: Store) -> Salts {
        Salts {
            store,
            today: Mutex::new(None),
        }
    }

    /// The salt of the UTC day holding `now` (milliseconds).
    pub async fn of_day(&self, now: i64) -> anyhow::Result<Vec<u8>> {
        let day = now.div_euclid(DAY_MS);
        if let Some((_, salt)) = self.cached().filter(|(cached_day, _)| *cached_day == day) {
            return Ok(salt);
        }
        let mut tx = self.store.begin().await?;
        let salt = salts::of_day(&mut tx, day).await?;
        tx.commit().await?;
        *self
            .today
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((day, salt.clone()));
        Ok(salt)
    }

    fn cached(&self) -> Option<(i64, Vec<u8>)> {
        self.today
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The visitor id of a browser that keeps none: the same for one address, browser
/// and site all day, unrelated to the next day's.
pub fn cookieless_visitor_id(salt: &[u8], site: &str, address: IpAddr, user_agent: &str) -> String {
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(site.as_bytes())
        .chain_update([0])
        .chain_update(address.to_string().as_bytes())
        .chain_update([0])
        .chain_update(user_agent.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    headwater_core::wire::new_id(bytes)
}

/// What the site's setting keeps of an address; never the address itself.
pub fn kept_address(policy: IpStorage, salt: &[u8], address: IpAddr) -> Option<String> {
    match policy {
        IpStorage::None => None,
        IpStorage::Truncated => Some(truncated(address).to_string()),
        IpStorage::Hashed => {
            let digest = Sha256::new()
                .chain_update(salt)
                .chain_update(address.to_string().as_bytes())
                .finalize();
            Some(hex::encode(&digest[..16]))
        }
    }
}

/// Whether the request carries the visitor's wish not to be tracked: Do Not Track
/// (`DNT: 1`) or Global Privacy Control (`Sec-GPC: 1`).
pub fn refuses_tracking(headers: &HeaderMap) -> bool {
    ["dnt", "sec-gpc"].iter().any(|name| {
        headers
            .get(*name)
            .is_some_and(|value| value.as_bytes().trim_ascii() == b"1")
    })
}

/// The network of an address: IPv4 to /24, IPv6 to /48.
fn truncated(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[6..].fill(0);
            IpAddr::from(octets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_kept_only_as_the_setting_allows() {
        let salt = b"salt of the day";
        let v4: IpAddr = "203.0.113.77".parse().unwrap();
        let v6: IpAddr = "2001:db8:85a3:8d3:1319:8a2e:370:7348".parse().unwrap();
        let cases = [
            (IpStorage::None, v4, None),
            (IpStorage::Truncated, v4, Some("203.0.113.0".to_owned())),
            (IpStorage::Truncated, v6, Some("2001:db8:85a3::".to_owned())),
        ];
        for (policy, address, expected) in cases {
            assert_eq!(
                kept_address(policy, salt, address),
                expected,
                "{policy:?} {address}"
            );
        }
        let hashed = kept_address(IpStorage::Hashed, salt, v4).unwrap();
        assert_eq!(hashed.len(), 32);
        assert!(!hashed.contains("203"));
        assert_ne!(
            Some(hashed),
            kept_address(IpStorage::Hashed, b"tomorrow", v4)
        );
    }

    #[test]
    fn a_cookieless_id_holds_for_a_day_and_a_browser() {
        let address: IpAddr = "198.51.100.7".parse().unwrap();
        let id = cookieless_visitor_id(b"monday", "demo", address, "Firefox");
        assert!(headwater_core::wire::is_id(&id), "{id}");
        assert_eq!(
            id,
            cookieless_visitor_id(b"monday", "demo", address, "Firefox")
        );
        for other in [
            cookieless_visitor_id(b"tuesday", "demo", address, "Firefox"),
            cookieless_visitor_id(b"monday", "other", address, "Firefox"),
            cookieless_visitor_id(
                b"monday",
                "demo",
                "198.51.100.8".parse().unwrap(),
                "Firefox",
            ),
            cookieless_visitor_id(b"monday", "demo", address, "Chrome"),
        ] {
            assert_ne!(id, other);
        }
    }

    #[test]
    fn do_not_track_and_global_privacy_control() {
        let with = |name: &'static str, value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            refuses_tracking(&headers)
        };
        assert!(with("dnt", "1"));
        assert!(with("sec-gpc", "1"));
        assert!(!with("dnt", "0"));
        assert!(!with("sec-gpc", "0"));
        assert!(!refuses_tracking(&HeaderMap::new()));
    }
}
