//! File globs as `x-wharf.requirements` writes them (`requirements/*.txt`,
//! `**/package.json`): `*` and `?` within a name, `[abc]`/`[a-z]`/`[!a]` classes,
//! and `**` for any number of directories. Hidden names match only a pattern that
//! starts with a dot, as in a shell.

use std::io;
use std::path::{Path, PathBuf};

/// The files under `base` that `pattern` matches, as paths relative to `base`, sorted.
pub fn expand(base: &Path, pattern: &str) -> io::Result<Vec<PathBuf>> {
    let segments: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut found = Vec::new();
    walk(base, PathBuf::new(), &segments, &mut found)?;
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(base: &Path, at: PathBuf, segments: &[&str], found: &mut Vec<PathBuf>) -> io::Result<()> {
    let Some((segment, rest)) = segments.split_first() else {
        if base.join(&at).is_file() {
            found.push(at);
        }
        return Ok(());
    };
    if *segment == "**" {
        // Zero directories, then each directory below in turn; a symlinked one is
        // not entered, so a link to a parent cannot loop.
        walk(base, at.clone(), rest, found)?;
        for (name, is_dir) in entries(&base.join(&at))? {
            if is_dir && !name.starts_with('.') {
                walk(base, at.join(&name), segments, found)?;
            }
        }
        return Ok(());
    }
    if !has_wildcard(segment) {
        return walk(base, at.join(segment), rest, found);
    }
    for (name, _) in entries(&base.join(&at))? {
        if matches(segment, &name) {
            walk(base, at.join(&name), rest, found)?;
        }
    }
    Ok(())
}

/// The names in `dir`, each with whether it is a directory (not a link to one); none
/// when `dir` is missing or not a directory.
fn entries(dir: &Path) -> io::Result<Vec<(String, bool)>> {
    match std::fs::read_dir(dir) {
        Ok(read) => Ok(read
            .filter_map(Result::ok)
            .filter_map(|e| {
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                Some((e.file_name().into_string().ok()?, is_dir))
            })
            .collect()),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Vec::new())
        }
        Err(err) => Err(err),
    }
}

fn has_wildcard(segment: &str) -> bool {
    segment.contains(['*', '?', '['])
}

/// Whether one name matches one segment of a pattern.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        Some('[') => match (class(&pattern[1..]), name.first()) {
            (Some((hit, consumed)), Some(&c)) => {
                hit(c) && matches_from(&pattern[1 + consumed..], &name[1..])
            }
            // An unclosed `[` is an ordinary character.
            (None, Some('[')) => matches_from(&pattern[1..], &name[1..]),
            _ => false,
        },
        Some(&c) => name.first() == Some(&c) && matches_from(&pattern[1..], &name[1..]),
    }
}

/// A `[...]` class after its `[`: a test for one character and how many pattern
/// characters it took (up to and including `]`).
fn class(pattern: &[char]) -> Option<(impl Fn(char) -> bool, usize)> {
    let negated = matches!(pattern.first(), Some('!' | '^'));
    let start = usize::from(negated);
    // A `]` right after the opening is a member, not the end.
    let end = start + 1 + pattern.get(start + 1..)?.iter().position(|&c| c == ']')?;
    let members: Vec<char> = pattern[start..end].to_vec();
    let test = move |c: char| {
        let mut i = 0;
        let mut hit = false;
        while i < members.len() {
            if i + 2 < members.len() && members[i + 1] == '-' {
                hit |= (members[i]..=members[i + 2]).contains(&c);
                i += 3;
            } else {
                hit |= members[i] == c;
                i += 1;
            }
        }
        hit != negated
    };
    Some((test, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_a_shell() {
        assert!(matches("*.txt", "dev.txt"));
        assert!(!matches("*.txt", "dev.txt.bak"));
        assert!(matches("req?.txt", "req1.txt"));
        assert!(matches("[a-c]x", "bx"));
        assert!(!matches("[!a-c]x", "bx"));
        assert!(matches("[]]", "]"));
        assert!(matches("a[", "a["));
        assert!(!matches("*", ".hidden"));
        assert!(matches(".*", ".hidden"));
    }

    #[test]
    fn double_star_crosses_directories() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "package.json",
            "a/package.json",
            "a/b/package.json",
            "a/other.json",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        let found = expand(dir.path(), "**/package.json").unwrap();
        let expected: Vec<PathBuf> = ["a/b/package.json", "a/package.json", "package.json"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(found, expected);
        assert_eq!(
            expand(dir.path(), "a/*.json").unwrap(),
            [
                PathBuf::from("a/other.json"),
                PathBuf::from("a/package.json")
            ]
        );
        assert!(expand(dir.path(), "missing/*.txt").unwrap().is_empty());
        // A link back up the tree is not followed.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).unwrap();
        assert_eq!(expand(dir.path(), "**/package.json").unwrap(), expected);
    }
}
