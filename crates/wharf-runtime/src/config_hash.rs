//! Compose's `com.docker.compose.config-hash`: the SHA-256 of a service's definition
//! as Go's `json.Marshal` writes it, without what does not change the container
//! (build, pull policy, scale, replicas, dependencies, profiles). wharf prints services
//! in the same field order and forms as Compose, so the same bytes come out, and a
//! container either tool created is recognized as up to date by the other.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash of `service`, given as Compose's JSON form (see `output::project_value`).
pub fn config_hash(service: &Value) -> String {
    let mut service = service.clone();
    if let Value::Object(fields) = &mut service {
        for ignored in ["build", "pull_policy", "scale", "depends_on", "profiles"] {
            fields.shift_remove(ignored);
        }
        if let Some(Value::Object(deploy)) = fields.get_mut("deploy") {
            deploy.shift_remove("replicas");
        }
    }
    let text = go_json(&service.to_string());
    hex(&Sha256::digest(text.as_bytes()))
}

/// Bytes in lower-case hexadecimal, as Docker and Compose write digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Go's encoder escapes `<`, `>`, `&` and the two Unicode line separators, which
/// never appear outside strings in JSON text.
fn go_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service `web` of a file Docker Compose v2.40.3 ran; the label it set was
    /// `9f2fc8fd…` (read with `docker inspect` on the container it created).
    #[test]
    fn the_hash_is_the_one_compose_labels_its_containers_with() {
        let web = serde_json::json!({
            "command": ["httpd", "-f", "-p", "8080"],
            "depends_on": {"db": {"condition": "service_healthy", "required": true}},
            "entrypoint": null,
            "image": "wharf-test/busybox:1",
            "networks": {"default": null},
            "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "published": "18090", "protocol": "tcp"}]
        });
        assert_eq!(
            config_hash(&web),
            "9f2fc8fda822b57e052c54b61619c06b062958359c394432eeba102177ebbf51"
        );
    }

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        assert_eq!(go_json(r#"{"a":"<b>&"}"#), r#"{"a":"\u003cb\u003e\u0026"}"#);
    }
}
