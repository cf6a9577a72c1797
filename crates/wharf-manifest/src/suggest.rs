//! "Did you mean" suggestions for misspelt keys and values.

/// The candidate closest to `input` by edit distance, if it is close enough to be a
/// plausible typo.
pub fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
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
}
