//! "Did you mean" suggestions for misspelt keys and values.

/// What other tools call what Compose names otherwise (a Dockerfile's `WORKDIR` and
/// `CMD`, `docker run --env`): too far apart to be typos, but what is meant.
const OTHER_TOOLS_NAMES: &[(&str, &str)] = &[
    ("workdir", "working_dir"),
    ("cmd", "command"),
    ("env", "environment"),
];

/// The candidate `input` is another tool's name for, else the closest by edit
/// distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let meant = OTHER_TOOLS_NAMES
        .iter()
        .filter(|(other, _)| other.eq_ignore_ascii_case(input))
        .find_map(|(_, known)| candidates.iter().find(|c| *c == known));
    if let Some(known) = meant {
        return Some(known);
    }
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|candidate| (edit_distance(input, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("imgae", &["image", "ports"]), Some("image"));
        assert_eq!(closest("procss", &["process", "ready"]), Some("process"));
        assert_eq!(closest("zzzzzz", &["image", "ports"]), None);
        assert_eq!(closest("imgae", &["image", "ports"]), Some("image"));
    }

    #[test]
    fn other_tools_names_suggest_composes() {
        let service = ["command", "environment", "working_dir", "image"];
        assert_eq!(closest("workdir", &service), Some("working_dir"));
        assert_eq!(closest("WORKDIR", &service), Some("working_dir"));
        assert_eq!(closest("cmd", &service), Some("command"));
        assert_eq!(closest("env", &service), Some("environment"));
        // Only where Compose has the key.
        assert_eq!(closest("workdir", &["image", "ports"]), None);
    }
}
