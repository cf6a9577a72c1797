//! Registry credentials where `docker login` leaves them: `auths` in the Docker CLI's
//! `config.json` (`$DOCKER_CONFIG`, else `~/.docker`), or the credential helper it
//! names (`credsStore`, `credHelpers`), asked as the CLI asks it.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

use crate::reference::split_host;

/// A login to one registry: a user and password, or an identity token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Password { username: String, password: String },
    IdentityToken(String),
}

/// Docker Hub's key in `config.json`.
pub(crate) const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The registry an image reference names: its first part when that looks like a
/// host, else Docker Hub.
pub fn registry_of(image: &str) -> &str {
    split_host(image).map_or(DOCKER_HUB, |(host, _)| host)
}

fn config() -> Option<Value> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The credentials for `registry`, if the user logged in to it.
pub fn credentials_for(registry: &str) -> Option<Credentials> {
    let config = config()?;
    let helper = config["credHelpers"][registry]
        .as_str()
        .or_else(|| config["credsStore"].as_str());
    if let Some(found) = helper.and_then(|helper| ask_helper(helper, registry)) {
        return Some(found);
    }
    from_auths(&config, registry)
}

/// Every credential `config.json` holds inline, for a build's base images.
pub fn all_credentials() -> HashMap<String, Credentials> {
    let Some(config) = config() else {
        return HashMap::new();
    };
    config["auths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(registry, _)| {
            from_auths(&config, registry).map(|found| (registry.clone(), found))
        })
        .collect()
}

/// The `auths` entry for `registry`: under its own key, or one written as a URL
/// (`https://registry.example.com/v2/`), as `docker login` has written them over time.
fn from_auths(config: &Value, registry: &str) -> Option<Credentials> {
    let auths = config["auths"].as_object()?;
    let entry = auths.get(registry).or_else(|| {
        auths
            .iter()
            .find(|(key, _)| host_of(key) == host_of(registry))
            .map(|(_, entry)| entry)
    })?;
    if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
        return Some(Credentials::IdentityToken(token.to_owned()));
    }
    if let (Some(username), Some(password)) =
        (entry["username"].as_str(), entry["password"].as_str())
    {
        return Some(Credentials::Password {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?)
        .ok()?;
    let (username, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Credentials::Password {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// `https://host:port/v2/` → `host:port`.
fn host_of(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// `docker-credential-<helper> get`, the registry on its standard input.
fn ask_helper(helper: &str, registry: &str) -> Option<Credentials> {
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(registry.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(&output.stdout).ok()?;
    let username = answer["Username"].as_str()?;
    let secret = answer["Secret"].as_str()?.to_owned();
    // The helpers' way of saying the secret is an identity token.
    Some(if username == "<token>" {
        Credentials::IdentityToken(secret)
    } else {
        Credentials::Password {
            username: username.to_owned(),
            password: secret,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_the_first_part_when_it_is_a_host() {
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(
            registry_of("registry.example.com/team/app:1"),
            "registry.example.com"
        );
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("team/app"), DOCKER_HUB);
        assert_eq!(registry_of("postgres:15"), DOCKER_HUB);
    }

    #[test]
    fn inline_credentials_are_decoded() {
        let config = serde_json::json!({"auths": {
            "localhost:5000": {"auth": "dXNlcjpwYTpzcw=="},
            "ghcr.io": {"identitytoken": "tok"},
            "broken": {"auth": "%%%"}
        }});
        assert_eq!(
            from_auths(&config, "localhost:5000"),
            Some(Credentials::Password {
                username: "user".to_owned(),
                password: "pa:ss".to_owned()
            })
        );
        assert_eq!(
            from_auths(&config, "ghcr.io"),
            Some(Credentials::IdentityToken("tok".to_owned()))
        );
        assert!(from_auths(&config, "broken").is_none());
        let written_as_urls = serde_json::json!({"auths": {
            "https://127.0.0.1:5000/v2/": {"username": "u", "password": "p"},
        }});
        assert_eq!(
            from_auths(&written_as_urls, "127.0.0.1:5000"),
            Some(Credentials::Password {
                username: "u".to_owned(),
                password: "p".to_owned()
            })
        );
        assert!(from_auths(&config, "elsewhere").is_none());
    }
}
