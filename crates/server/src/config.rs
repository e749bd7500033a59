//! Configuration: one typed [`Config`] read from a TOML file, then overridden by
//! `HEADWATER_*` variables and command-line flags (see `main.rs`), validated once at
//! start. `headwater.example.toml` at the repository root documents every key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use headwater_core::form::points::FORM_TALLY_PREFIX;
use headwater_core::{Behaviour, FormDefinition, LeadDefinition, Role, Stage, Trigger};
use serde::{Deserialize, Serialize};

/// Handoff secrets shorter than this are too easy to guess.
const MIN_SECRET_LENGTH: usize = 16;
/// API tokens are typed by machines; they can afford to be long.
const MIN_TOKEN_LENGTH: usize = 24;
/// Keys of a site that belong to the file (how the site connects, its secrets, and
/// its privacy settings, which are the site's legal decisions), never to the
/// console.
pub const FILE_OWNED_SITE_KEYS: [&str; 5] = [
    "origins",
    "secret_key",
    "webhooks",
    "privacy",
    "hash_routing",
];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub sites: Vec<SiteConfig>,
    /// Credentials of the systems and people that work leads through the API.
    #[serde(default)]
    pub api_tokens: Vec<ApiToken>,
    /// How the console treats people who sign in.
    #[serde(default)]
    pub console: ConsoleConfig,
}

/// The console's sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Marks the session cookie `Secure`, so browsers send it over https only. Turn
    /// it on whenever the console is served over https.
    pub secure_cookies: bool,
    /// A session ends this many hours after signing in.
    pub session_hours: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            secure_cookies: false,
            session_hours: 12,
        }
    }
}

/// A bearer token and the role it acts with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who acts: recorded as the actor of every stage change made with the token.
    pub name: String,
    pub role: Role,
    pub token: String,
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
    /// Collector requests a second one client address may make (also the burst).
    pub rate_limit_per_ip: u32,
    /// Collector requests a second one site may receive (also the burst).
    pub rate_limit_per_site: u32,
    /// Batches allowed to wait for the database at once. Past this the collector
    /// sheds load with 503 and `Retry-After` rather than queueing without bound:
    /// a waiting batch holds its body in memory.
    pub max_waiting_writes: usize,
    /// Load balancers whose `X-Forwarded-For` names the client; from anyone else
    /// the header is ignored and the peer address counts.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// One tracked site.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The id the script tag names in `data-site`.
    pub id: String,
    /// The IANA time zone (`Europe/Berlin`) whose days the waterfall report counts in.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Origins (`https://www.example.com`) allowed to send events and identify.
    pub origins: Vec<String>,
    /// The key a server (not a browser) sends as `Authorization: Bearer <key>` to
    /// post events or identify; requests without an `Origin` need it.
    #[serde(default, skip_serializing)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
    #[serde(default)]
    pub forms: Vec<FormDefinition>,
    pub lead_definition: LeadDefinition,
    /// Where handoffs go: each webhook receives the events it lists.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// How long the qualification team and sales may take to act on a lead.
    #[serde(default)]
    pub service_levels: ServiceLevels,
    /// What the site asks before the tracker may keep anything in the browser, and
    /// what the server keeps of a visitor's address.
    #[serde(default)]
    pub privacy: Privacy,
    /// The site routes by the fragment (`/#/pricing`): a new fragment is a new page
    /// view. Off by default: a fragment is usually a place on the same page.
    #[serde(default)]
    pub hash_routing: bool,
}

/// A site's privacy settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    pub consent: ConsentMode,
    /// Honour Do Not Track and Global Privacy Control: the tracker sends nothing,
    /// and the collector drops what carries `DNT: 1` or `Sec-GPC: 1`. Turn off only
    /// where the law lets the site ignore these signals.
    pub respect_do_not_track: bool,
    /// What is kept of a visitor's IP address with the visitor.
    pub store_ip: IpStorage,
}

/// What the site asks before the tracker may keep an id in the browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// Nothing: ids are kept in the browser from the first page.
    #[default]
    None,
    /// No storage and no id until the page calls `headwater('consent', true)`.
    Required,
    /// Never any storage in the browser: a daily-rotating hash of the address and
    /// browser stands in for the visitor's id, so a visit is followed within a day.
    Cookieless,
}

/// What is kept of a visitor's address. Raw addresses are never stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpStorage {
    /// Nothing.
    #[default]
    None,
    /// The network only: the last octet of IPv4 and all but the first 48 bits of
    /// IPv6 set to zero.
    Truncated,
    /// A hash with the day's salt: tells visits of one address apart for a day,
    /// and nothing once the salt is gone.
    Hashed,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy {
            consent: ConsentMode::None,
            respect_do_not_track: true,
            store_ip: IpStorage::None,
        }
    }
}

/// What marketers change in the console: the site's time zone, service levels,
/// behaviours, forms and lead definition. The rest of a site (origins, keys,
/// webhooks) stays in the configuration file. Fields are in the order TOML needs:
/// plain values before tables.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default)]
    pub service_levels: ServiceLevels,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
    #[serde(default)]
    pub forms: Vec<FormDefinition>,
    pub lead_definition: LeadDefinition,
}

/// Time limits for acting on leads; none when absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevels {
    /// Minutes the qualification team has to accept or return an MQL.
    pub mql_minutes: Option<u64>,
    /// Minutes sales has to qualify or return a SAL.
    pub sal_minutes: Option<u64>,
}

impl ServiceLevels {
    /// The stages with a time limit, and the limit in milliseconds.
    pub fn limits(&self) -> impl Iterator<Item = (Stage, i64)> {
        let minutes = [
            (Stage::Mql, self.mql_minutes),
            (Stage::Sal, self.sal_minutes),
        ];
        minutes.into_iter().filter_map(|(stage, minutes)| {
            Some((stage, i64::try_from(minutes?).ok()?.saturating_mul(60_000)))
        })
    }
}

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A lead matched the lead definition: the handoff to the qualification team.
    Mql,
    Sal,
    Sql,
    Customer,
    /// A lead was returned to marketing.
    Recycled,
    /// A lead stayed in a stage longer than the service level allows.
    SlaBreach,
}

impl WebhookEvent {
    /// The event announcing that a lead reached `stage`, if there is one.
    pub fn for_stage(stage: Stage) -> Option<WebhookEvent> {
        match stage {
            Stage::Mql => Some(WebhookEvent::Mql),
            Stage::Sal => Some(WebhookEvent::Sal),
            Stage::Sql => Some(WebhookEvent::Sql),
            Stage::Customer => Some(WebhookEvent::Customer),
            Stage::Recycled => Some(WebhookEvent::Recycled),
            Stage::Inquiry | Stage::Known => None,
        }
    }
}

/// A receiver of handoffs and how hard to try.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook in the outbox and in logs.
    pub name: String,
    pub url: String,
    #[serde(default = "default_webhook_events")]
    pub events: Vec<WebhookEvent>,
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
            rate_limit_per_ip: 50,
            rate_limit_per_site: 20_000,
            max_waiting_writes: 2_048,
            trusted_proxies: Vec::new(),
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
        if self.console.session_hours == 0 {
            return Err(invalid("console.session_hours", "must be at least 1"));
        }

        let mut names = HashSet::new();
        let mut tokens = HashSet::new();
        for (index, token) in self.api_tokens.iter().enumerate() {
            let key = format!("api_tokens[{index}]");
            if token.name.is_empty() || !names.insert(token.name.as_str()) {
                return Err(invalid(format!("{key}.name"), "must be present and unique"));
            }
            if token.token.len() < MIN_TOKEN_LENGTH || !tokens.insert(token.token.as_str()) {
                return Err(invalid(
                    format!("{key}.token"),
                    format!("must be unique and at least {MIN_TOKEN_LENGTH} characters"),
                ));
            }
        }
        Ok(())
    }

    /// The API token presented, if it is one of ours. Compares digests, so the time
    /// taken says nothing about how much of a guess was right.
    pub fn api_token(&self, presented: &str) -> Option<&ApiToken> {
        use sha2::{Digest, Sha256};
        let presented = Sha256::digest(presented.as_bytes());
        self.api_tokens
            .iter()
            .find(|token| Sha256::digest(token.token.as_bytes()) == presented)
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

    /// Whether `presented` is the site's secret key. Compares digests, so the time
    /// taken says nothing about how much of a guess was right.
    pub fn has_secret_key(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.secret_key.as_ref().is_some_and(|key| {
            Sha256::digest(key.as_bytes()) == Sha256::digest(presented.as_bytes())
        })
    }

    /// The form with this id.
    pub fn form(&self, id: &str) -> Option<&FormDefinition> {
        self.forms.iter().find(|form| form.id == id)
    }

    /// The part of the site the console edits.
    pub fn settings(&self) -> SiteSettings {
        SiteSettings {
            time_zone: self.time_zone.clone(),
            service_levels: self.service_levels.clone(),
            behaviours: self.behaviours.clone(),
            forms: self.forms.clone(),
            lead_definition: self.lead_definition.clone(),
        }
    }

    /// This site with its editable part replaced by `settings`.
    pub fn with_settings(&self, settings: SiteSettings) -> SiteConfig {
        SiteConfig {
            time_zone: settings.time_zone,
            service_levels: settings.service_levels,
            behaviours: settings.behaviours,
            forms: settings.forms,
            lead_definition: settings.lead_definition,
            ..self.clone()
        }
    }

    /// The site's time zone; validation has made sure it exists.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Checks what the types cannot; `key` names the site in errors (`sites[0]`).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            return Err(invalid(
                format!("{key}.time_zone"),
                format!(
                    "`{}` is not an IANA time zone such as \"Europe/Berlin\"",
                    self.time_zone
                ),
            ));
        }
        for (index, origin) in self.origins.iter().enumerate() {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                return Err(invalid(
                    format!("{key}.origins[{index}]"),
                    "must be scheme://host[:port] with nothing after it",
                ));
            }
        }

        if self
            .secret_key
            .as_ref()
            .is_some_and(|key| key.len() < MIN_SECRET_LENGTH)
        {
            return Err(invalid(
                format!("{key}.secret_key"),
                format!("must be at least {MIN_SECRET_LENGTH} characters"),
            ));
        }

        let mut names = HashSet::new();
        for (index, behaviour) in self.behaviours.iter().enumerate() {
            let at = format!("{key}.behaviours[{index}]");
            if behaviour.name.is_empty() || !names.insert(behaviour.name.as_str()) {
                return Err(invalid(format!("{at}.name"), "must be present and unique"));
            }
            // Events carry the name, and the collector refuses longer names.
            if behaviour.name.chars().count() > headwater_core::wire::MAX_NAME_LENGTH
                || headwater_core::wire::has_control_character(&behaviour.name)
            {
                return Err(invalid(
                    format!("{at}.name"),
                    format!(
                        "must be at most {} characters, with no control characters",
                        headwater_core::wire::MAX_NAME_LENGTH
                    ),
                ));
            }
            // Forms' points appear in profiles and explanations under this prefix.
            if behaviour.name.starts_with(FORM_TALLY_PREFIX) {
                return Err(invalid(
                    format!("{at}.name"),
                    format!("must not start with `{FORM_TALLY_PREFIX}`"),
                ));
            }
            let pattern = match &behaviour.trigger {
                Trigger::Click(pattern) | Trigger::Page(pattern) | Trigger::Event(pattern) => {
                    pattern
                }
                Trigger::TimeOnPage { page, seconds } => {
                    if *seconds == 0 {
                        return Err(invalid(format!("{at}.time_on_page.seconds"), "must be > 0"));
                    }
                    page
                }
                Trigger::ScrollDepth { page, percent } => {
                    if !(1..=100).contains(percent) {
                        return Err(invalid(
                            format!("{at}.scroll_depth.percent"),
                            "must be between 1 and 100",
                        ));
                    }
                    page
                }
            };
            if pattern.trim().is_empty() {
                return Err(invalid(
                    at,
                    "needs a selector (click), a path (page, and the page of time_on_page \
                     and scroll_depth) or a name (event)",
                ));
            }
        }

        let mut form_ids = HashSet::new();
        for (index, form) in self.forms.iter().enumerate() {
            let at = format!("{key}.forms[{index}]");
            if !form_ids.insert(form.id.as_str()) {
                return Err(invalid(format!("{at}.id"), "must be unique"));
            }
            form.check().map_err(|error| {
                let key = match error.key.as_str() {
                    "" => at.clone(),
                    relative => format!("{at}.{relative}"),
                };
                invalid(key, error.problem.to_string())
            })?;
        }

        let mut webhook_names = HashSet::new();
        for (index, webhook) in self.webhooks.iter().enumerate() {
            let at = format!("{key}.webhooks[{index}]");
            if webhook.name.is_empty() || !webhook_names.insert(webhook.name.as_str()) {
                return Err(invalid(format!("{at}.name"), "must be present and unique"));
            }
            if !(webhook.url.starts_with("http://") || webhook.url.starts_with("https://")) {
                return Err(invalid(format!("{at}.url"), "must be an http(s) URL"));
            }
            if webhook.secret.len() < MIN_SECRET_LENGTH {
                return Err(invalid(
                    format!("{at}.secret"),
                    format!("must be at least {MIN_SECRET_LENGTH} characters"),
                ));
            }
            if webhook.max_attempts == 0 {
                return Err(invalid(format!("{at}.max_attempts"), "must be at least 1"));
            }
        }
        Ok(())
    }

    /// The webhooks that receive `event`.
    pub fn webhooks_for(&self, event: WebhookEvent) -> impl Iterator<Item = &WebhookConfig> {
        self.webhooks
            .iter()
            .filter(move |webhook| webhook.events.contains(&event))
    }

    /// The webhook with this name.
    pub fn webhook(&self, name: &str) -> Option<&WebhookConfig> {
        self.webhooks.iter().find(|webhook| webhook.name == name)
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

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_webhook_events() -> Vec<WebhookEvent> {
    vec![WebhookEvent::Mql]
}

/// With the default backoff, 20 attempts span about two and a half hours: a
/// receiver down for an hour still gets every handoff.
fn default_max_attempts() -> u32 {
    20
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
            "sites[0].webhooks[0].secret: must be at least 16 characters",
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
        check_invalid(
            "min_fill_seconds = 2",
            "min_fill_seconds = 2\nmax_questions = 1",
            "sites[0].forms[0].max_questions: must be at least 1 and reach the e-mail field",
        );
        check_invalid(
            "min_fill_seconds = 2",
            "min_fill_seconds = -1",
            "sites[0].forms[0].min_fill_seconds: must be between 0 and 600 seconds",
        );
        check_invalid(
            "id = \"whitepaper\"",
            "id = \"demo_request\"",
            "sites[0].forms[1].id: must be unique",
        );
        check_invalid(
            "value = \"whitepaper\"",
            "value = \"whitepaper\"\nfrom_query = \"source\"",
            "sites[0].forms[1].fields[4].from_query: \
             a hidden field takes either `from_query` or `value`",
        );
        check_invalid(
            "click = \"[data-action=contact-sales]\"",
            "click = \" \"",
            "sites[0].forms[2].display.trigger: must not be empty",
        );
        check_invalid(
            "name = \"pricing_viewed\"",
            "name = \"form:pricing\"",
            "sites[0].behaviours[1].name: must not start with `form:`",
        );
        check_invalid(
            "name = \"pricing_viewed\"",
            &format!("name = \"{}\"", "p".repeat(101)),
            "sites[0].behaviours[1].name: must be at most 100 characters, with no control \
             characters",
        );
        check_invalid(
            "seconds = 30",
            "seconds = 0",
            "sites[0].behaviours[5].time_on_page.seconds: must be > 0",
        );
        check_invalid(
            "name = \"seats\"",
            "name = \"seats\"\nmin = 1",
            "sites[0].forms[2].fields[3].min: only fields of kind number take this key",
        );
        let text = example().replacen("pattern = \"[A-Z]{2}", "pattern = \"[A-Z{2}", 1);
        let error = Config::parse(&text).unwrap().validate().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("sites[0].forms[2].fields[4].pattern: not a regular expression"),
            "{error}"
        );
    }

    #[test]
    fn time_zones_are_checked_at_start() {
        check_invalid(
            "time_zone = \"Europe/Berlin\"",
            "time_zone = \"Mars/Olympus_Mons\"",
            "sites[0].time_zone: `Mars/Olympus_Mons` is not an IANA time zone such as \
             \"Europe/Berlin\"",
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
