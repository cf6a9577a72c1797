//! `.dockerignore`, read as the Docker CLI reads it: one pattern a line, `#` comments,
//! `!` to take a path back; `*` and `?` within a name, `[…]` classes, `**` for any
//! number of directories; a pattern matching a directory leaves out what is inside
//! it; the last pattern that matches a path decides.

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    segments: Vec<String>,
    takes_back: bool,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let (takes_back, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let segments: Vec<String> = clean(pattern);
                (!segments.is_empty()).then_some(Rule {
                    segments,
                    takes_back,
                })
            })
            .collect();
        Self { rules }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for rule in &self.rules {
            // A pattern naming a directory covers everything under it.
            let matched = (1..=path.len()).any(|n| matches(&rule.segments, &path[..n]));
            if matched {
                excluded = !rule.takes_back;
            }
        }
        excluded
    }

    /// Whether a `!` pattern could take back something under an excluded directory,
    /// so the directory must still be walked.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.takes_back)
    }
}

/// A path as the CLI cleans it: no leading `/`, no `.` segments, `..` resolved.
fn clean(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other.to_owned()),
        }
    }
    segments
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| matches(rest, &path[skip..]))
        }
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(name, tail)| matches_name(first, name) && matches(rest, tail)),
    }
}

/// One path segment against one pattern segment (Go's `filepath.Match` rules).
fn matches_name(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_chars(&pattern, &name)
}

fn matches_chars(pattern: &[char], name: &[char]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return name.is_empty();
    };
    match first {
        '*' => (0..=name.len()).any(|skip| matches_chars(rest, &name[skip..])),
        '?' => !name.is_empty() && matches_chars(rest, &name[1..]),
        '[' => {
            let Some(close) = rest.iter().position(|c| *c == ']') else {
                return false; // Go reports a bad pattern; it matches nothing
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            in_class(&rest[..close], c) && matches_chars(&rest[close + 1..], tail)
        }
        '\\' if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && matches_chars(&rest[1..], &name[1..])
        }
        literal => name.first() == Some(&literal) && matches_chars(rest, &name[1..]),
    }
}

fn in_class(class: &[char], c: char) -> bool {
    let (negated, class) = match class.split_first() {
        Some(('^' | '!', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            found |= (class[i]..=class[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= class[i] == c;
            i += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_leave_out_files_and_whole_directories() {
        let ignore = DockerIgnore::parse(
            "# build output\nnode_modules\n*.log\n/tmp/**\ndocs/*.md\n.git\n\n",
        );
        assert!(ignore.excludes("node_modules"));
        assert!(ignore.excludes("node_modules/left-pad/index.js"));
        assert!(ignore.excludes("server.log"));
        assert!(!ignore.excludes("logs/server.log.txt"));
        assert!(ignore.excludes("tmp/a/b"));
        assert!(ignore.excludes("docs/guide.md"));
        assert!(!ignore.excludes("docs/sub/guide.md"));
        assert!(ignore.excludes(".git/config"));
        assert!(!ignore.excludes("src/main.rs"));
        assert!(!ignore.excludes("app/node_modules_list.txt"));
    }

    #[test]
    fn the_last_matching_pattern_decides() {
        let ignore = DockerIgnore::parse("*.md\n!README.md\n**/secret*\n!keep/secret.txt");
        assert!(ignore.excludes("CHANGES.md"));
        assert!(!ignore.excludes("README.md"));
        assert!(ignore.excludes("a/b/secret.key"));
        assert!(ignore.excludes("secret"));
        assert!(!ignore.excludes("keep/secret.txt"));
        assert!(ignore.has_exceptions());
        assert!(!DockerIgnore::parse("a\nb").has_exceptions());
    }

    #[test]
    fn names_match_as_go_matches_them() {
        assert!(matches_name("file?.txt", "file1.txt"));
        assert!(!matches_name("file?.txt", "file12.txt"));
        assert!(matches_name("[a-c]x", "bx"));
        assert!(!matches_name("[^a-c]x", "bx"));
        assert!(matches_name("\\*star", "*star"));
        assert!(!matches_name("\\*star", "xstar"));
        assert!(!matches_name("[unclosed", "u"));
        let ignore = DockerIgnore::parse("./build/../dist\n");
        assert!(ignore.excludes("dist/app.js"));
    }
}
