//! Where to connect: flags > environment > the TOML config file, which may name several servers.
//!
//! ```toml
//! default = "prod"
//! [servers.prod]
//! url = "https://gw1:8080"
//! apikey_env = "PROD_ZAPGATE_KEY"   # or apikey = "..."
//! read_only = true
//! [servers.staging]
//! url = "http://127.0.0.1:8080"
//! apikey = "secret"
//! integration = "LOOPBACK"          # what `create` asks for when no engine is typed
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

#[derive(Parser, Debug, Default)]
#[command(
    name = "zapgate-tui",
    version,
    about = "Operator console for a zapgate (or Evolution API) server"
)]
pub struct Args {
    /// Server base URL.
    #[arg(long, env = "ZAPGATE_URL")]
    pub url: Option<String>,
    /// The global API key (AUTHENTICATION_API_KEY).
    #[arg(long, env = "ZAPGATE_APIKEY", hide_env_values = true)]
    pub apikey: Option<String>,
    /// A server named in the config file.
    #[arg(long, env = "ZAPGATE_SERVER")]
    pub server: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/zapgate/tui.toml or ~/.config/zapgate/tui.toml).
    #[arg(long, env = "ZAPGATE_TUI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Hide and refuse every action that changes the server.
    #[arg(long)]
    pub read_only: bool,
    /// Integration `create` asks for when none is typed (e.g. WHATSAPP-BAILEYS, LOOPBACK).
    #[arg(long, env = "ZAPGATE_TUI_INTEGRATION")]
    pub integration: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub default: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub servers: BTreeMap<String, ServerEntry>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    pub url: String,
    pub apikey: Option<String>,
    pub apikey_env: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    pub integration: Option<String>,
}

/// What the console runs with.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    pub url: String,
    pub apikey: String,
    pub read_only: bool,
    pub integration: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("no server named \"{0}\" in the config file")]
    UnknownServer(String),
    #[error("no server: give --url (or ZAPGATE_URL) or a config file with [servers.NAME]")]
    NoServer,
    #[error(
        "no API key for {0}: give --apikey (or ZAPGATE_APIKEY), or apikey/apikey_env in the config"
    )]
    NoKey(String),
}

fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("zapgate").join("tui.toml"))
}

impl Resolved {
    /// How the header names the server: `name url`, or the URL alone.
    pub fn label(&self) -> String {
        if self.name == "-" {
            self.url.clone()
        } else {
            format!("{} {}", self.name, self.url)
        }
    }
}

impl Args {
    /// Another server from the file (`:server NAME`): its own URL and key (the key given on the
    /// command line only when the entry has none); `--read-only` still holds.
    pub fn switch_to(&self, file: &File, name: &str) -> Result<Resolved, ConfigError> {
        let entry = file
            .servers
            .get(name)
            .ok_or_else(|| ConfigError::UnknownServer(name.to_string()))?;
        let own_key = entry.apikey.is_some() || entry.apikey_env.is_some();
        Args {
            url: None,
            apikey: if own_key { None } else { self.apikey.clone() },
            server: Some(name.to_string()),
            config: None,
            read_only: self.read_only,
            integration: self.integration.clone(),
        }
        .resolve(file)
    }

    pub fn load_file(&self) -> Result<File, ConfigError> {
        let (path, must) = match &self.config {
            Some(p) => (p.clone(), true),
            None => match default_path() {
                Some(p) => (p, false),
                None => return Ok(File::default()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse(path, e)),
            Err(e) if !must && e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(ConfigError::Read(path, e)),
        }
    }

    /// Flags and environment (already merged by clap) over the file.
    pub fn resolve(&self, file: &File) -> Result<Resolved, ConfigError> {
        let pick = self
            .server
            .clone()
            .or_else(|| file.default.clone())
            .or_else(|| {
                (file.servers.len() == 1)
                    .then(|| file.servers.keys().next().cloned())
                    .flatten()
            });
        let entry = match &pick {
            Some(n) => Some(
                file.servers
                    .get(n)
                    .cloned()
                    .ok_or_else(|| ConfigError::UnknownServer(n.clone()))?,
            ),
            None => None,
        };
        let url = self
            .url
            .clone()
            .or_else(|| entry.as_ref().map(|e| e.url.clone()))
            .ok_or(ConfigError::NoServer)?;
        let from_file = entry.as_ref().and_then(|e| {
            e.apikey
                .clone()
                .or_else(|| e.apikey_env.as_ref().and_then(|v| std::env::var(v).ok()))
        });
        let name = pick.unwrap_or_else(|| "-".into());
        let apikey = self
            .apikey
            .clone()
            .or(from_file)
            .ok_or_else(|| ConfigError::NoKey(name.clone()))?;
        Ok(Resolved {
            read_only: self.read_only
                || file.read_only
                || entry.as_ref().is_some_and(|e| e.read_only),
            integration: self
                .integration
                .clone()
                .or_else(|| entry.as_ref().and_then(|e| e.integration.clone())),
            name,
            url,
            apikey,
        })
    }
}
