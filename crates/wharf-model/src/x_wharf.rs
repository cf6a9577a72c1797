//! wharf's own settings, in `x-wharf` keys (which the Compose spec allows and Compose
//! itself ignores). Defined exactly here; `docs/x-wharf.schema.json` publishes them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The `x-wharf` key of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSettings {
    pub backend: Backend,
    pub process: Option<ProcessSettings>,
    pub ready: Option<Readiness>,
    /// A path on the service's HTTP port that `wharf check --services` calls.
    pub monitor: Option<String>,
    /// Globs (relative to the build context) whose hash decides when to rebuild.
    pub requirements: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Auto,
    Process,
    Docker,
}

/// How to run a service natively.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessSettings {
    pub command: Option<CommandLine>,
    pub working_dir: Option<String>,
    pub environment: BTreeMap<String, String>,
}

/// How wharf tells a native service is ready, in place of its healthcheck there.
/// Checked as the file is read, so `config -q` refuses what `up` would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "ReadinessKeys")]
pub enum Readiness {
    /// An HTTP path that must answer 2xx/3xx.
    Http(String),
    /// A port that must accept connections.
    Tcp(u16),
    /// A line the service must print.
    Log(String),
}

/// `x-wharf.ready` as written: each key checked where it stands, then the one given.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ReadinessKeys {
    http: Option<HttpPath>,
    tcp: Option<PortToAsk>,
    log: Option<LogText>,
}

impl TryFrom<ReadinessKeys> for Readiness {
    type Error = &'static str;

    fn try_from(keys: ReadinessKeys) -> Result<Self, Self::Error> {
        match (keys.http, keys.tcp, keys.log) {
            (Some(HttpPath(path)), None, None) => Ok(Self::Http(path)),
            (None, Some(PortToAsk(port)), None) => Ok(Self::Tcp(port)),
            (None, None, Some(LogText(text))) => Ok(Self::Log(text)),
            _ => Err("give exactly one of `http`, `tcp` and `log`"),
        }
    }
}

/// A path on the service's own port, not a URL.
struct HttpPath(String);

impl<'de> Deserialize<'de> for HttpPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = String::deserialize(deserializer)?;
        if !path.starts_with('/') {
            return Err(de::Error::custom(format!(
                "{path:?} is no path on the service's port; write one such as `/healthz`"
            )));
        }
        Ok(Self(path))
    }
}

/// A port number, whole and from 1 to 65535.
struct PortToAsk(u16);

impl<'de> Deserialize<'de> for PortToAsk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortVisitor;
        impl Visitor<'_> for PortVisitor {
            type Value = PortToAsk;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number")
            }
            fn visit_u64<E: de::Error>(self, port: u64) -> Result<PortToAsk, E> {
                match u16::try_from(port) {
                    Ok(0) => Err(E::custom("port 0 is no port to ask")),
                    Ok(port) => Ok(PortToAsk(port)),
                    Err(_) => Err(E::custom(format!(
                        "{port} is no port: ports run from 1 to 65535"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, port: i64) -> Result<PortToAsk, E> {
                match u64::try_from(port) {
                    Ok(port) => self.visit_u64(port),
                    Err(_) => Err(E::custom(format!(
                        "{port} is no port: ports run from 1 to 65535"
                    ))),
                }
            }
            fn visit_f64<E: de::Error>(self, port: f64) -> Result<PortToAsk, E> {
                Err(E::custom(format!(
                    "{port} is no port: a port is a whole number"
                )))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PortToAsk, E> {
                match text.parse::<u64>() {
                    Ok(port) => self.visit_u64(port),
                    Err(_) => Err(E::custom(format!("{text:?} is no port number"))),
                }
            }
        }
        deserializer.deserialize_any(PortVisitor)
    }
}

/// Text a line of the service's output must contain: empty, every line would.
struct LogText(String);

impl<'de> Deserialize<'de> for LogText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(de::Error::custom("the text to look for is empty"));
        }
        Ok(Self(text))
    }
}

/// A command as a shell string or an argv list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Exec(Vec<String>),
}

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;
        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = CommandLine;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandLine, E> {
                Ok(CommandLine::Shell(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandLine, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element()? {
                    args.push(arg);
                }
                Ok(CommandLine::Exec(args))
            }
        }
        deserializer.deserialize_any(CommandVisitor)
    }
}

/// The top-level `x-wharf` key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectSettings {
    /// The project's own domain in the proxy (default `<project>.localhost`).
    pub domain: Option<String>,
    /// The account repos are cloned from when the user has not set `wharf whoami`.
    pub owner: Option<String>,
    pub repos: BTreeMap<String, Repo>,
    /// Directories `wharf checkout` creates empty (relative to `wharf root`).
    pub directories: Vec<String>,
    pub tasks: BTreeMap<String, Task>,
    pub proxy: ProxySettings,
    pub env: BTreeMap<String, EnvVar>,
    /// The project's databases by name, for `wharf db`.
    pub databases: BTreeMap<String, DatabaseSettings>,
}

/// A database of the project: on which server, and how `wharf db reset` fills it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// The server's service (default: the project's only database server).
    pub service: Option<String>,
    /// The task (`x-wharf.tasks`) that migrates it.
    pub migrate: Option<String>,
    /// What fills it after migrating, in order: tasks by name, else dump files
    /// (`.sql`, `.sql.gz`, `.sql.zst`) relative to the project directory.
    pub seed: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Repo {
    /// Clone URL; `{user}` is replaced by `wharf whoami`.
    pub url: String,
    /// Where the checkout goes, relative to `wharf root` (default: the repo's name).
    pub path: Option<String>,
    pub branch: Option<String>,
    /// Extra arguments for `git clone` (`["--depth", "1"]`).
    pub clone_options: Vec<String>,
    /// The task `wharf update --migrations` runs after pulling.
    pub migrate: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub service: String,
    pub run: Option<CommandLine>,
    pub description: Option<String>,
    pub interactive: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxySettings {
    pub routes: Vec<Route>,
}

/// A route in the proxy: by host, by path prefix, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Route {
    pub host: Option<String>,
    pub path: Option<String>,
    pub service: String,
    pub port: Option<u16>,
    /// How requests spread over the service's replicas.
    pub balance: Balance,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// In turn.
    #[default]
    RoundRobin,
    /// To the replica with the fewest requests in flight.
    LeastConnections,
}

/// A documented environment variable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    pub description: Option<String>,
    pub default: Option<String>,
    pub used_by: Vec<String>,
    /// `true` masks the value, `false` shows it; unsaid, a name or value that looks
    /// secret is masked.
    pub secret: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    fn read(json: &str) -> Result<Readiness, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn readiness_is_one_way_checked_where_it_is_written() {
        assert_eq!(
            read(r#"{"http": "/healthz"}"#),
            Ok(Readiness::Http("/healthz".into()))
        );
        assert_eq!(read(r#"{"tcp": 8000}"#), Ok(Readiness::Tcp(8000)));
        assert_eq!(read(r#"{"tcp": "8000"}"#), Ok(Readiness::Tcp(8000)));
        assert_eq!(read(r#"{"log": "up"}"#), Ok(Readiness::Log("up".into())));
        for (json, said) in [
            (r#"{"tcp": 80, "log": "up"}"#, "give exactly one of"),
            ("{}", "give exactly one of"),
            (r#"{"tcp": 0}"#, "port 0 is no port to ask"),
            (
                r#"{"tcp": 70000}"#,
                "70000 is no port: ports run from 1 to 65535",
            ),
            (r#"{"tcp": -1}"#, "-1 is no port"),
            (
                r#"{"tcp": 80.5}"#,
                "80.5 is no port: a port is a whole number",
            ),
            (
                r#"{"http": "http://x/"}"#,
                "is no path on the service's port",
            ),
            (r#"{"log": ""}"#, "the text to look for is empty"),
        ] {
            let err = read(json).unwrap_err();
            assert!(err.contains(said), "{json}: {err}");
        }
    }
}
