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

/// Credentials with a recognizable shape, found in `text`: (1-based line, what it
/// looks like). Their values are not returned, so nothing prints them.
pub fn known_tokens(text: &str) -> Vec<(usize, &'static str)> {
    /// A prefix, the characters that follow it, how many at least, and what it is.
    type Shape = (&'static str, fn(u8) -> bool, usize, &'static str);
    const SHAPES: &[Shape] = &[
        ("AKIA", is_upper_or_digit, 16, "an AWS access key"),
        ("ASIA", is_upper_or_digit, 16, "an AWS access key"),
        ("ghp_", is_alphanumeric, 36, "a GitHub token"),
        ("gho_", is_alphanumeric, 36, "a GitHub token"),
        ("ghs_", is_alphanumeric, 36, "a GitHub token"),
        ("ghu_", is_alphanumeric, 36, "a GitHub token"),
        ("github_pat_", is_token, 22, "a GitHub token"),
        ("glpat-", is_token, 20, "a GitLab token"),
        ("xoxb-", is_token, 10, "a Slack token"),
        ("xoxp-", is_token, 10, "a Slack token"),
        ("sk_live_", is_alphanumeric, 20, "a Stripe key"),
        ("AIza", is_token, 35, "a Google API key"),
        ("npm_", is_alphanumeric, 36, "an npm token"),
    ];
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            found.push((index + 1, "a private key"));
            continue;
        }
        for (prefix, allowed, at_least, what) in SHAPES {
            let matches = line.match_indices(prefix).any(|(at, _)| {
                let rest = &line.as_bytes()[at + prefix.len()..];
                rest.iter().take_while(|b| allowed(**b)).count() >= *at_least
            });
            if matches {
                found.push((index + 1, *what));
                break;
            }
        }
    }
    found
}

fn is_upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_alphanumeric(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    use super::{known_tokens, mask_secret};

    #[test]
    fn tokens_are_known_by_their_shape_and_placeholders_are_not() {
        let text = "a: 1\ncommand: deploy --key AKIAIOSFODNN7EXAMPLE\nlabels: {t: ghp_abcdefghijklmnopqrstuvwxyz0123456789}\nx: AKIA-not-a-key\n-----BEGIN OPENSSH PRIVATE KEY-----\n";
        assert_eq!(
            known_tokens(text),
            [
                (2, "an AWS access key"),
                (3, "a GitHub token"),
                (5, "a private key")
            ]
        );
        assert!(known_tokens("image: ghp_short\n").is_empty());
    }

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
