//! Values that must not be shown as they are: `env`, `config --resolved` and `check`
//! print them masked unless asked.

/// Hides values that look secret: variables named like a password, token or key, and
/// the password in a URL (`postgres://user:…@db`).
pub fn mask_secret(key: &str, value: &str) -> String {
    const HIDDEN: &str = "********";
    let upper = key.to_ascii_uppercase();
    if ["PASSWORD", "SECRET", "TOKEN", "KEY", "PASS"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return HIDDEN.to_owned();
    }
    if let Some(scheme_end) = value.find("://") {
        let rest = &value[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let start = scheme_end + 3 + colon + 1;
            let end = scheme_end + 3 + at;
            return format!("{}{HIDDEN}{}", &value[..start], &value[end..]);
        }
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::mask_secret;

    #[test]
    fn secrets_are_masked_by_name_and_in_urls() {
        assert_eq!(mask_secret("POSTGRES_PASSWORD", "hunter2"), "********");
        assert_eq!(mask_secret("API_TOKEN", "abc"), "********");
        assert_eq!(
            mask_secret("DATABASE_URL", "postgres://shop:s3cret@127.0.0.1:5432/shop"),
            "postgres://shop:********@127.0.0.1:5432/shop"
        );
        assert_eq!(
            mask_secret("API_URL", "http://127.0.0.1:8010"),
            "http://127.0.0.1:8010"
        );
        assert_eq!(mask_secret("NOTE", "user@example.org"), "user@example.org");
    }
}
