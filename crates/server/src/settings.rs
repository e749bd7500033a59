//! Site settings: the part of each site that marketers edit in the console (time
//! zone, service levels, behaviours, forms, lead definition), versioned in the
//! database, and the live snapshot of every site that the whole server reads.
//!
//! The configuration file seeds the first version of each site at first start and
//! keeps what the console never edits (origins, keys, webhooks). After a version is
//! saved, the process that saved it swaps its snapshot at once; other processes
//! sharing a PostgreSQL database notice within [`RELOAD_INTERVAL`], by comparing the
//! largest version id. Readers take the snapshot whole ([`LiveSites::snapshot`]),
//! so a request never sees half of one version and half of another.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::watch;

use crate::config::{Config, FILE_OWNED_SITE_KEYS, SiteConfig, SiteSettings};
use crate::store::{Store, settings};

/// How often a process looks for versions saved by another process.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Who saved the first version of each site.
pub const FILE_AUTHOR: &str = "configuration file";

/// Every site as it is now.
#[derive(Debug)]
pub struct SiteSet {
    /// The largest version id this snapshot was built from.
    pub revision: i64,
    pub sites: Vec<Arc<SiteConfig>>,
}

impl SiteSet {
    pub fn site(&self, id: &str) -> Option<&Arc<SiteConfig>> {
        self.sites.iter().find(|site| site.id == id)
    }
}

/// The live sites of one process.
pub struct LiveSites {
    file: Arc<Config>,
    current: ArcSwap<SiteSet>,
}

/// What the console's editor sent, parsed and checked.
#[derive(Debug)]
pub struct Edited {
    pub settings: SiteSettings,
    /// Keys found in the text that belong to the file and were left alone.
    pub ignored: Vec<String>,
}

/// Settings the editor cannot take, with the key at fault where there is one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSettings(pub String);

impl LiveSites {
    /// The sites as the file has them, before the database was read.
    pub fn from_file(file: Arc<Config>) -> LiveSites {
        let sites = file.sites.iter().cloned().map(Arc::new).collect();
        LiveSites {
            current: ArcSwap::from_pointee(SiteSet { revision: 0, sites }),
            file,
        }
    }

    /// Saves the file's settings as version 1 of every site that has no version yet,
    /// then loads the live versions.
    pub async fn start(file: Arc<Config>, store: &Store) -> anyhow::Result<LiveSites> {
        let live = LiveSites::from_file(file.clone());
        let mut tx = store.begin().await?;
        for site in &file.sites {
            // Processes starting together on one PostgreSQL database take turns.
            crate::store::lock(&mut tx, &format!("settings {}", site.id)).await?;
            if settings::latest_version(&mut tx, &site.id).await?.is_some() {
                continue;
            }
            let text = render(&site.id, &site.settings())?;
            let note = "first start: the settings in the configuration file";
            settings::append(
                &mut tx,
                &site.id,
                &text,
                FILE_AUTHOR,
                note,
                crate::clock::now_ms(),
            )
            .await?;
            tracing::info!(site = %site.id, "site settings seeded from the configuration file");
        }
        tx.commit().await?;
        live.reload(store).await?;
        Ok(live)
    }

    /// Every site, as one consistent snapshot.
    pub fn snapshot(&self) -> Arc<SiteSet> {
        self.current.load_full()
    }

    /// One site as it is now.
    pub fn site(&self, id: &str) -> Option<Arc<SiteConfig>> {
        self.current.load().site(id).cloned()
    }

    /// Rebuilds the snapshot from the live versions in the database. A version that
    /// no longer parses (saved by a newer release, say) keeps the site as it was,
    /// and says so in the log.
    pub async fn reload(&self, store: &Store) -> anyhow::Result<()> {
        let revision = settings::latest_id(store.reader()).await?;
        let versions = {
            let mut connection = store.reader().acquire().await?;
            settings::live(&mut connection).await?
        };
        let previous = self.snapshot();
        let mut sites = Vec::with_capacity(self.file.sites.len());
        for site in &self.file.sites {
            let version = versions.iter().find(|version| version.site_id == site.id);
            let live = match version.map(|version| parse(&site.id, &version.settings)) {
                None => Arc::new(site.clone()),
                Some(Ok(edited)) => Arc::new(site.with_settings(edited.settings)),
                Some(Err(error)) => {
                    tracing::error!(site = %site.id, %error, "stored settings unreadable; kept");
                    previous
                        .site(&site.id)
                        .cloned()
                        .unwrap_or_else(|| Arc::new(site.clone()))
                }
            };
            sites.push(live);
        }
        self.current.store(Arc::new(SiteSet { revision, sites }));
        Ok(())
    }

    /// Reloads whenever another process saved a version, until `shutdown`.
    pub async fn watch(&self, store: Store, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            tokio::select! {
                () = tokio::time::sleep(RELOAD_INTERVAL) => {}
                _ = shutdown.changed() => return,
            }
            let seen = self.snapshot().revision;
            match settings::latest_id(store.reader()).await {
                Ok(latest) if latest != seen => {
                    if let Err(error) = self.reload(&store).await {
                        tracing::error!(error = ?error, "cannot reload site settings");
                    } else {
                        tracing::info!(revision = latest, "site settings reloaded");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "cannot check site settings"),
            }
        }
    }

    /// The site as the file has it (origins, keys and webhooks come from there).
    pub fn file_site(&self, id: &str) -> Option<&SiteConfig> {
        self.file.site(id)
    }
}

/// A site's settings as TOML in the configuration file's format: a `[[sites]]`
/// table with the site's id, ready to paste into `headwater.toml`.
pub fn render(site_id: &str, settings: &SiteSettings) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Document<'a> {
        sites: [SiteDocument<'a>; 1],
    }
    #[derive(Serialize)]
    struct SiteDocument<'a> {
        id: &'a str,
        #[serde(flatten)]
        settings: &'a SiteSettings,
    }
    let document = Document {
        sites: [SiteDocument {
            id: site_id,
            settings,
        }],
    };
    toml::to_string(&document).context("cannot write the settings as TOML")
}

/// Reads the settings of site `site_id` from TOML in the configuration file's
/// format: the console's own export, or a whole `headwater.toml`. Keys that belong
/// to the file (origins, keys, webhooks, the server) are left alone and listed.
/// Errors give the line and column in `text`, and the key.
pub fn parse(site_id: &str, text: &str) -> Result<Edited, InvalidSettings> {
    let problem = |error: toml::de::Error| InvalidSettings(error.to_string());
    let document: EditorDocument = toml::from_str(text).map_err(problem)?;
    let table: toml::Table = text.parse().map_err(problem)?;

    let mut ignored: Vec<String> = table
        .keys()
        .filter(|key| *key != "sites")
        .cloned()
        .collect();
    let found = document
        .sites
        .into_iter()
        .enumerate()
        .find(|(_, site)| site.id == site_id);
    let Some((index, site)) = found else {
        return Err(InvalidSettings(format!(
            "sites: no [[sites]] table has id = \"{site_id}\""
        )));
    };
    let file_owned = [
        site.origins.is_some(),
        site.secret_key.is_some(),
        site.webhooks.is_some(),
        site.privacy.is_some(),
        site.hash_routing.is_some(),
    ];
    for (key, present) in FILE_OWNED_SITE_KEYS.iter().zip(file_owned) {
        if present {
            ignored.push(format!("sites[{index}].{key}"));
        }
    }
    let settings = SiteSettings {
        time_zone: site.time_zone,
        service_levels: site.service_levels,
        behaviours: site.behaviours,
        forms: site.forms,
        lead_definition: site.lead_definition,
    };
    Ok(Edited { settings, ignored })
}

/// A TOML text as the editor takes it: sites, and whatever else a configuration
/// file holds (ignored).
#[derive(serde::Deserialize)]
struct EditorDocument {
    #[serde(default)]
    sites: Vec<EditorSite>,
}

/// A site in the editor: its settings, and the file's keys that the editor leaves
/// alone. Any other key is refused, naming it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EditorSite {
    id: String,
    #[serde(default = "utc")]
    time_zone: String,
    #[serde(default)]
    service_levels: crate::config::ServiceLevels,
    #[serde(default)]
    behaviours: Vec<headwater_core::Behaviour>,
    #[serde(default)]
    forms: Vec<headwater_core::FormDefinition>,
    lead_definition: headwater_core::LeadDefinition,
    origins: Option<toml::Value>,
    secret_key: Option<toml::Value>,
    webhooks: Option<toml::Value>,
    privacy: Option<toml::Value>,
    hash_routing: Option<toml::Value>,
}

fn utc() -> String {
    "UTC".into()
}

/// Checks edited settings the way the file is checked at start, as part of the
/// site they would belong to. Errors name the key, e.g. `sites[0].behaviours[1].name`.
pub fn validate(site: &SiteConfig, settings: &SiteSettings) -> Result<SiteConfig, InvalidSettings> {
    let candidate = site.with_settings(settings.clone());
    candidate
        .validate("sites[0]")
        .map_err(|error| InvalidSettings(error.to_string()))?;
    Ok(candidate)
}

/// The lines that changed from `before` to `after`, as a unified diff.
pub fn diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Config {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../headwater.example.toml");
        Config::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn settings_round_trip_through_the_file_format() {
        let site = &example().sites[0];
        let text = render(&site.id, &site.settings()).unwrap();
        assert!(text.starts_with("[[sites]]\nid = \"demo\"\n"), "{text}");
        assert_eq!(parse("demo", &text).unwrap().settings, site.settings());
    }

    #[test]
    fn a_whole_configuration_file_imports_its_site_and_leaves_the_rest() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../headwater.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let edited = parse("demo", &text).unwrap();
        assert_eq!(edited.settings, example().sites[0].settings());
        assert_eq!(
            edited.ignored,
            [
                "api_tokens",
                "console",
                "server",
                "sites[0].origins",
                "sites[0].secret_key",
                "sites[0].webhooks",
                "sites[0].privacy",
                "sites[0].hash_routing"
            ]
        );
    }

    #[test]
    fn refused_settings_name_the_key() {
        let site = &example().sites[0];
        let text = render(&site.id, &site.settings()).unwrap();
        let cases = [
            (
                "id = \"demo\"",
                "id = \"other\"",
                "no [[sites]] table has id = \"demo\"",
            ),
            ("points = 20", "pointz = 20", "missing field `points`"),
            (
                "[[sites]]\n",
                "[[sites]]\ncolour = 1\n",
                "unknown field `colour`",
            ),
            (
                "threshold = 20",
                "threshold = \"high\"",
                "invalid type: string \"high\"",
            ),
            ("[[sites]]", "[[sites]", "TOML parse error"),
        ];
        for (from, to, expected) in cases {
            let changed = text.replacen(from, to, 1);
            let error = parse("demo", &changed).unwrap_err().to_string();
            assert!(error.contains(expected), "{to}: {error}");
            assert!(
                error.contains("line") || error.starts_with("sites:"),
                "{error}"
            );
        }

        let mut settings = site.settings();
        settings.behaviours[1].name = settings.behaviours[0].name.clone();
        let error = validate(site, &settings).unwrap_err().to_string();
        assert_eq!(
            error,
            "sites[0].behaviours[1].name: must be present and unique"
        );
        settings = site.settings();
        settings.time_zone = "Europe/Atlantis".into();
        assert!(
            validate(site, &settings)
                .unwrap_err()
                .to_string()
                .starts_with("sites[0].time_zone")
        );
    }

    #[test]
    fn a_diff_shows_the_changed_lines() {
        let diff = diff("a = 1\nb = 2\n", "a = 1\nb = 3\n");
        assert!(diff.contains("-b = 2\n+b = 3\n"), "{diff}");
    }
}
