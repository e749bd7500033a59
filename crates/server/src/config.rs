//! Configuration: one typed [`Config`] read from a TOML file, then overridden by
//! `HEADWATER_*` variables and command-line flags (see `main.rs`), validated once at
//! start. `headwater.example.toml` at the repository root documents every key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use headwater_core::{Behaviour, FieldKind, FormDefinition, LeadDefinition, Trigger};
use serde::{Deserialize, Serialize};

/// Handoff secrets shorter than this are too easy to guess.
const MIN_SECRET_LENGTH: usize = 16;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub sites: Vec<SiteConfig>,
}

/// How the server runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// `sqlite://path/to/file.db`; the file is created on first start.
    pub database: String,
    /// Where the built browser bundle is (`cargo xtask build-web` writes it).
    pub pkg_dir: PathBuf,
    /// A folder holding the demo company site (`index.html` and `www/`), served at
    /// `/` when set. Leave unset in production.
    pub demo_site: Option<PathBuf>,
}

/// One tracked site.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The id the script tag names in `data-site`.
    pub id: String,
    /// Origins (`https://www.example.com`) allowed to send events and identify.
    pub origins: Vec<String>,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
    #[serde(default)]
    pub forms: Vec<FormDefinition>,
    pub lead_definition: LeadDefinition,
    pub handoff: Option<HandoffConfig>,
}

/// Where MQL handoffs go and how hard to try.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffConfig {
    pub url: String,
    /// Signs every delivery (HMAC-SHA256); share it with the receiver only.
    pub secret: String,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// A configuration that cannot run, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "sqlite://headwater.db".into(),
            pkg_dir: PathBuf::from("pkg"),
            demo_site: None,
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Config::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses without validating; [`Config::validate`] must follow.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks what the types cannot: unique ids, well-formed origins and URLs,
    /// forms that can identify someone.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sites.is_empty() {
            return Err(invalid("sites", "at least one site is needed"));
        }
        let mut site_ids = HashSet::new();
        for (index, site) in self.sites.iter().enumerate() {
            let key = format!("sites[{index}]");
            if site.id.is_empty() || !site_ids.insert(site.id.as_str()) {
                return Err(invalid(format!("{key}.id"), "must be present and unique"));
            }
            site.validate(&key)?;
        }
        Ok(())
    }

    /// The site with this id.
    pub fn site(&self, id: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|site| site.id == id)
    }
}

impl SiteConfig {
    /// Whether `origin` (scheme, host and port) may send for this site.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    /// The form with this id.
    pub fn form(&self, id: &str) -> Option<&FormDefinition> {
        self.forms.iter().find(|form| form.id == id)
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        for (index, origin) in self.origins.iter().enumerate() {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                return Err(invalid(
                    format!("{key}.origins[{index}]"),
                    "must be scheme://host[:port] with nothing after it",
                ));
            }
        }

        let mut names = HashSet::new();
        for (index, behaviour) in self.behaviours.iter().enumerate() {
            let at = format!("{key}.behaviours[{index}]");
            if behaviour.name.is_empty() || !names.insert(behaviour.name.as_str()) {
                return Err(invalid(format!("{at}.name"), "must be present and unique"));
            }
            let pattern = match &behaviour.trigger {
                Trigger::Click(pattern) | Trigger::Page(pattern) | Trigger::Event(pattern) => {
                    pattern
                }
            };
            if pattern.trim().is_empty() {
                return Err(invalid(
                    at,
                    "needs a selector (click), a path (page) or a name (event)",
                ));
            }
        }

        for (index, form) in self.forms.iter().enumerate() {
            let has_email = form
                .fields
                .iter()
                .any(|field| field.kind == FieldKind::Email && field.required);
            if !has_email {
                return Err(invalid(
                    format!("{key}.forms[{index}]"),
                    "an identification form needs a required field of kind \"email\"",
                ));
            }
        }

        if let Some(handoff) = &self.handoff {
            if !(handoff.url.starts_with("http://") || handoff.url.starts_with("https://")) {
                return Err(invalid(
                    format!("{key}.handoff.url"),
                    "must be an http(s) URL",
                ));
            }
            if handoff.secret.len() < MIN_SECRET_LENGTH {
                return Err(invalid(
                    format!("{key}.handoff.secret"),
                    format!("must be at least {MIN_SECRET_LENGTH} characters"),
                ));
            }
            if handoff.max_attempts == 0 {
                return Err(invalid(
                    format!("{key}.handoff.max_attempts"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

/// The origin (`scheme://host[:port]`, lower case) of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

fn default_max_attempts() -> u32 {
    12
}

fn default_initial_backoff_ms() -> u64 {
    1_000
}

fn default_max_backoff_ms() -> u64 {
    15 * 60 * 1_000
}

fn default_timeout_ms() -> u64 {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../headwater.example.toml");
        std::fs::read_to_string(path).unwrap()
    }

    fn check_invalid(from: &str, to: &str, expected: &str) {
        let text = example().replacen(from, to, 1);
        assert_ne!(text, example(), "the example no longer contains {from:?}");
        let error = Config::parse(&text).unwrap().validate().unwrap_err();
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn the_example_is_valid() {
        Config::parse(&example()).unwrap().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        check_invalid(
            "secret = \"demo-handoff-secret-change-me\"",
            "secret = \"short\"",
            "sites[0].handoff.secret: must be at least 16 characters",
        );
        check_invalid(
            "\"http://localhost:8080\"",
            "\"http://localhost:8080/shop\"",
            "sites[0].origins[1]: must be scheme://host[:port] with nothing after it",
        );
        check_invalid(
            "name = \"pricing_viewed\"",
            "name = \"request_demo_click\"",
            "sites[0].behaviours[1].name: must be present and unique",
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = example().replacen("[server]", "[server]\nlisten_port = 1", 1);
        assert!(
            Config::parse(&text)
                .unwrap_err()
                .to_string()
                .contains("listen_port")
        );
    }

    #[test]
    fn origins() {
        let cases = [
            ("https://Example.com/a?b", Some("https://example.com")),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("ftp://example.com", None),
            ("https://user@example.com/", None),
            ("/relative", None),
        ];
        for (url, expected) in cases {
            assert_eq!(origin_of(url).as_deref(), expected, "{url}");
        }
    }
}
