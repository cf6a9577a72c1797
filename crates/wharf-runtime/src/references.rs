//! Names of other services, made reachable natively: what Docker's network does by
//! name, wharf does by rewriting references to loopback and the host port.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wharf_plan::PortSpec;

/// Rewrites references to other services so they reach them natively: `db:5432`
/// (host and a port the service declares) becomes `127.0.0.1:<host port>`, and a
/// value that is just a service's name becomes `127.0.0.1`.
pub fn resolve_references(value: &str, services: &BTreeMap<String, Vec<PortSpec>>) -> String {
    if services.contains_key(value) {
        return "127.0.0.1".to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    'scan: while !rest.is_empty() {
        for (name, ports) in services {
            let Some(after_name) = rest.strip_prefix(name.as_str()) else {
                continue;
            };
            let boundary_before = out.chars().last().is_none_or(|c| !is_host_char(c));
            let Some(after_colon) = after_name.strip_prefix(':') else {
                continue;
            };
            let digits = after_colon.len()
                - after_colon
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let boundary_after = after_colon[digits..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_digit());
            let port = after_colon[..digits].parse::<u16>().ok();
            let host_port = port.and_then(|p| ports.iter().find(|spec| spec.target == p));
            if let (true, true, Some(spec)) = (boundary_before, boundary_after, host_port) {
                let _ = write!(out, "127.0.0.1:{}", spec.published);
                rest = &after_colon[digits..];
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Rewrites the arguments of a command line (its program aside) as
/// [`resolve_references`] does, leaving a bare service name after a flag that names a
/// user or a database (`psql -U app -h db`): a service's command, a healthcheck's, and
/// what `wharf exec` and `wharf run` are given. A database or cache client pointed at a
/// service by name (`psql -h db`) with no port of its own is also given the host port
/// of the service's port for it: the client's default, natively, may be another
/// server's. One given the container's port (`-p 5432`, as an entrypoint writes it)
/// gets the host port in its place.
pub fn resolve_argv(argv: &mut Vec<String>, services: &BTreeMap<String, Vec<PortSpec>>) {
    if let Some((at, flag)) = resolve_words(argv, services) {
        argv.splice(at..at, flag);
    }
}

/// `resolve_argv`'s rewriting of the words in place; where the client's port flag
/// goes, and the flag, when it needs one.
fn resolve_words(
    argv: &mut [String],
    services: &BTreeMap<String, Vec<PortSpec>>,
) -> Option<(usize, [String; 2])> {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or_default();
    let client = client_port_flag(program);
    let shell = matches!(program, "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh");
    // What these print is text, in which a service's name is just a word.
    let prints = matches!(program, "echo" | "printf");
    // Where to give the client the host port of the service named after its `-h`.
    let mut host_port = None;
    for i in 1..argv.len() {
        if prints || names_no_host(&argv[i - 1]) {
            argv[i] = resolve_embedded(&argv[i], services);
            continue;
        }
        if shell && runs_the_next_word(&argv[i - 1]) {
            argv[i] = resolve_script(&argv[i], services);
            continue;
        }
        if let Some((_, usual)) = client
            && matches!(argv[i - 1].as_str(), "-h" | "--host")
            && let Some(port) = services
                .get(&argv[i])
                .and_then(|ports| ports.iter().find(|p| p.target == usual))
                .filter(|p| p.published != usual)
        {
            host_port = Some((i + 1, port.published));
        }
        argv[i] = resolve_references(&argv[i], services);
    }
    let (Some((flag, usual)), Some((at, published))) = (client, host_port) else {
        return None;
    };
    let (usual, published) = (usual.to_string(), published.to_string());
    for i in 0..argv.len() {
        let word = argv[i].as_str();
        let attached = word
            .strip_prefix(flag)
            .or_else(|| word.strip_prefix("--port="));
        let at = if attached == Some(usual.as_str()) {
            i
        } else if (word == flag || word == "--port") && argv.get(i + 1) == Some(&usual) {
            i + 1
        } else {
            continue;
        };
        let named = argv[at].len() - usual.len();
        argv[at].replace_range(named.., &published);
        return None;
    }
    let names_a_port = argv.iter().any(|a| {
        a == flag
            || a == "--port"
            || a.starts_with("--port=")
            || (a.starts_with(flag) && a.len() > 2)
    });
    (!names_a_port).then(|| (at, [flag.to_owned(), published]))
}

/// Whether a shell's flag makes its next word the script to run: `-c`, or flags
/// together that end in it (`-ec`).
fn runs_the_next_word(flag: &str) -> bool {
    flag.strip_prefix('-').is_some_and(|letters| {
        letters.ends_with('c') && letters.bytes().all(|b| b.is_ascii_alphabetic())
    })
}

/// Rewrites each command of a shell script as [`resolve_argv`] rewrites a command line,
/// so `until pg_isready -h db; do sleep 1; done` waits for this project's db natively.
/// A word that expands something keeps its expansions; only the `name:port`
/// references in it change.
pub fn resolve_script(script: &str, services: &BTreeMap<String, Vec<PortSpec>>) -> String {
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for command in crate::shell_script::commands(script) {
        // Reserved words, `exec` and variable assignments lead up to the program.
        let program = command
            .iter()
            .position(|w| !w.value.as_deref().is_some_and(leads_to_the_program))
            .unwrap_or(command.len());
        let words = &command[program..];
        let written: Vec<String> = words
            .iter()
            .map(|w| {
                w.value
                    .clone()
                    .unwrap_or_else(|| script[w.at.clone()].to_owned())
            })
            .collect();
        let mut argv = written.clone();
        let port_flag = resolve_words(&mut argv, services);
        for ((word, before), after) in words.iter().zip(&written).zip(argv) {
            if *before != after {
                let text = if word.value.is_some() {
                    crate::shell_script::quoted(&after, None)
                } else {
                    after
                };
                edits.push((word.at.clone(), text));
            }
        }
        if let Some((at, flag)) = port_flag {
            let end = words[at - 1].at.end;
            edits.push((end..end, format!(" {}", flag.join(" "))));
        }
    }
    let mut out = script.to_owned();
    for (at, text) in edits.into_iter().rev() {
        out.replace_range(at, &text);
    }
    out
}

/// A word before a command's program: a reserved word, `exec`, or `NAME=value`.
fn leads_to_the_program(word: &str) -> bool {
    const LEADING: [&str; 12] = [
        "if", "then", "else", "elif", "while", "until", "do", "!", "{", "exec", "time", "command",
    ];
    LEADING.contains(&word)
        || word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// The flag that gives a client its server's port, and the port it uses without one.
fn client_port_flag(program: &str) -> Option<(&'static str, u16)> {
    match program {
        "psql" | "pg_isready" | "pg_dump" | "pg_dumpall" | "pg_restore" | "createdb" | "dropdb"
        | "createuser" | "dropuser" | "vacuumdb" | "reindexdb" | "clusterdb" => Some(("-p", 5432)),
        "mysql" | "mariadb" | "mysqladmin" | "mariadb-admin" | "mysqldump" | "mariadb-dump" => {
            Some(("-P", 3306))
        }
        "redis-cli" => Some(("-p", 6379)),
        _ => None,
    }
}

/// Every service of a lowered project with its ports, as references reach them.
pub fn reachable_services(project: &wharf_plan::ProjectSpec) -> BTreeMap<String, Vec<PortSpec>> {
    project
        .services
        .iter()
        .map(|(name, service)| (name.clone(), service.ports.clone()))
        .collect()
}

/// Whether values under this environment variable, or after this command-line flag,
/// name something else than a host (a user, a database, a password), so a value that
/// happens to be a service's name stays as written: `POSTGRES_USER: app` beside a
/// service `app`, `pg_isready -U app`.
pub fn names_no_host(variable_or_flag: &str) -> bool {
    const FLAGS: [&str; 7] = [
        "-U",
        "-u",
        "--user",
        "--username",
        "-d",
        "--dbname",
        "--database",
    ];
    const ENDINGS: [&str; 7] = [
        "USER", "USERNAME", "PASSWORD", "DB", "DATABASE", "NAME", "SCHEMA",
    ];
    FLAGS.contains(&variable_or_flag)
        || ENDINGS
            .iter()
            .any(|ending| variable_or_flag.to_ascii_uppercase().ends_with(ending))
            && !variable_or_flag.starts_with('-')
}

/// `resolve_references` for a value `names_no_host` says is no host: only `name:port`
/// references in it are rewritten.
pub fn resolve_embedded(value: &str, services: &BTreeMap<String, Vec<PortSpec>>) -> String {
    if services.contains_key(value) {
        return value.to_owned();
    }
    resolve_references(value, services)
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reachable() -> BTreeMap<String, Vec<PortSpec>> {
        BTreeMap::from([
            (
                "db".to_owned(),
                vec![PortSpec {
                    target: 5432,
                    published: 15432,
                    host: None,
                    ..Default::default()
                }],
            ),
            (
                "api".to_owned(),
                vec![PortSpec {
                    target: 8001,
                    published: 8001,
                    host: None,
                    ..Default::default()
                }],
            ),
        ])
    }

    /// `psql -h db` reaches this project's db where it listens, not whatever holds
    /// 5432; a port given, or a client wharf does not know, is left as written.
    #[test]
    fn a_client_pointed_at_a_service_by_name_gets_its_host_port() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let resolved = |words: &[&str]| {
            let mut line = argv(words);
            resolve_argv(&mut line, &reachable());
            line
        };
        assert_eq!(
            resolved(&["psql", "-h", "db", "-U", "db", "-c", "select 1"]),
            argv(&[
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                "15432",
                "-U",
                "db",
                "-c",
                "select 1"
            ])
        );
        assert_eq!(
            resolved(&["psql", "-h", "db", "-p", "6000"]),
            argv(&["psql", "-h", "127.0.0.1", "-p", "6000"])
        );
        // The container's port, in each way of writing it, is the host port here.
        for (given, expected) in [
            (&["-p", "5432"][..], &["-p", "15432"][..]),
            (&["-p5432"], &["-p15432"]),
            (&["--port", "5432"], &["--port", "15432"]),
            (&["--port=5432"], &["--port=15432"]),
        ] {
            assert_eq!(
                resolved(&[&["psql", "-h", "db"][..], given].concat()),
                argv(&[&["psql", "-h", "127.0.0.1"][..], expected].concat())
            );
        }
        assert_eq!(
            resolved(&["curl", "-h", "db"]),
            argv(&["curl", "-h", "127.0.0.1"])
        );
        assert_eq!(
            resolved(&["psql", "-h", "api"]),
            argv(&["psql", "-h", "127.0.0.1"])
        );
    }

    /// The wait-for-the-database loop of many Compose files, and the other shapes a
    /// service's name takes in a script, reach it natively.
    #[test]
    fn scripts_reach_services_by_name_command_by_command() {
        let r = reachable();
        assert_eq!(
            resolve_script(
                "until pg_isready -h db -U db; do sleep 1; done; echo db up",
                &r
            ),
            "until pg_isready -h 127.0.0.1 -p 15432 -U db; do sleep 1; done; echo db up"
        );
        assert_eq!(
            resolve_script(
                "PGPASSWORD=x psql \"postgres://u@db:5432/x?a=1&b=2\" -h \"$H\" && curl http://api:8001/$P",
                &r
            ),
            "PGPASSWORD=x psql 'postgres://u@127.0.0.1:15432/x?a=1&b=2' -h \"$H\" && curl http://127.0.0.1:8001/$P"
        );
        // Left as written: a port given, quoted text that is not a whole word, comments.
        let kept = "psql -h db -p 5 -c 'select db' # db";
        assert_eq!(
            resolve_script(kept, &r),
            "psql -h 127.0.0.1 -p 5 -c 'select db' # db"
        );
        // A shell's script inside a command line, as `command: [sh, -ec, …]` gives it.
        let mut argv: Vec<String> = ["sh", "-ec", "wait-for db:5432 && psql -h db"]
            .map(str::to_owned)
            .to_vec();
        resolve_argv(&mut argv, &r);
        assert_eq!(
            argv[2],
            "wait-for 127.0.0.1:15432 && psql -h 127.0.0.1 -p 15432"
        );
    }

    #[test]
    fn references_to_services_reach_them_on_loopback() {
        let r = reachable();
        assert_eq!(
            resolve_references("postgres://u:p@db:5432/shop", &r),
            "postgres://u:p@127.0.0.1:15432/shop"
        );
        assert_eq!(
            resolve_references("http://api:8001/x", &r),
            "http://127.0.0.1:8001/x"
        );
        assert_eq!(resolve_references("db", &r), "127.0.0.1");
        // Not a declared port, part of a longer name, or a longer number: left alone.
        assert_eq!(resolve_references("db:5433", &r), "db:5433");
        assert_eq!(resolve_references("mydb:5432", &r), "mydb:5432");
        assert_eq!(resolve_references("db:54321", &r), "db:54321");
        assert_eq!(resolve_references("database", &r), "database");
        // A user or a database named like a service is no host.
        assert_eq!(resolve_embedded("db", &r), "db");
        assert_eq!(resolve_embedded("db:5432", &r), "127.0.0.1:15432");
        assert!(names_no_host("POSTGRES_USER") && names_no_host("DB_NAME"));
        assert!(names_no_host("-U") && names_no_host("--dbname"));
        assert!(!names_no_host("DB_HOST") && !names_no_host("-h") && !names_no_host("REDIS_URL"));
    }
}
