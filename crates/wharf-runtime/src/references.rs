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
/// server's.
pub fn resolve_argv(argv: &mut Vec<String>, services: &BTreeMap<String, Vec<PortSpec>>) {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or_default();
    let client = client_port_flag(program);
    // Where to give the client the host port of the service named after its `-h`.
    let mut host_port = None;
    for i in 1..argv.len() {
        if names_no_host(&argv[i - 1]) {
            argv[i] = resolve_embedded(&argv[i], services);
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
    if let (Some((flag, _)), Some((at, published))) = (client, host_port) {
        let names_a_port = argv.iter().any(|a| {
            a == flag
                || a == "--port"
                || a.starts_with("--port=")
                || (a.starts_with(flag) && a.len() > 2)
        });
        if !names_a_port {
            argv.splice(at..at, [flag.to_owned(), published.to_string()]);
        }
    }
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
        assert_eq!(
            resolved(&["curl", "-h", "db"]),
            argv(&["curl", "-h", "127.0.0.1"])
        );
        assert_eq!(
            resolved(&["psql", "-h", "api"]),
            argv(&["psql", "-h", "127.0.0.1"])
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
