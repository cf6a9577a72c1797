//! The nginx recipe: the host's nginx with the project's mounted configuration. At
//! each start (`wharf recipe nginx`), the mounted files are copied into the service's
//! own directory with what only makes sense in a container rewritten: `listen 80`
//! becomes the host port on loopback, `web:8000` the address that reaches that service,
//! and mounted container paths (`root /usr/share/nginx/html`) their host directories.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use wharf_plan::PortSpec;

use super::{LaunchError, Options, Recipe, RecipeContext, find_program, missing};
use crate::references::resolve_references;

const CONF_D: &str = "/etc/nginx/conf.d";
const MAIN_CONF: &str = "/etc/nginx/nginx.conf";
const HTML: &str = "/usr/share/nginx/html";

pub fn recipe(context: &RecipeContext<'_>) -> Result<Recipe, String> {
    if find_program("nginx").is_none() {
        return Err(missing("nginx", "nginx"));
    }
    let prefix = context.own_dir("nginx");
    let mut options = Options::default().with_path("prefix", &prefix);
    for mount in context.service.volumes.iter().filter(|m| m.kind == "bind") {
        options = options.with("mount", format!("{}={}", mount.source, mount.target));
    }
    for port in &context.service.ports {
        let published = port.published.split('-').next().filter(|p| !p.is_empty());
        let host = published.map_or_else(|| port.target.to_string(), str::to_owned);
        options = options.with("listen", format!("{}={host}", port.target));
    }
    // Only the services its configuration names: another service coming or going
    // changes nothing of nginx's, so it is not recreated for it.
    let configuration = mounted_configuration(context);
    let named = |service: &str| {
        configuration
            .as_deref()
            .is_none_or(|text| mentions(text, service))
    };
    for (service, ports) in context
        .reachable
        .iter()
        .filter(|(service, _)| named(service))
    {
        for port in ports {
            options = options.with(
                "resolve",
                format!("{service}:{}={}", port.target, port.published),
            );
        }
    }
    Ok(Recipe {
        command: options.into_command(context.wharf, "nginx"),
        working_dir: context.project_dir.to_owned(),
        environment: BTreeMap::new(),
        origin: "recipe nginx".to_owned(),
        // nginx's graceful stop, the image's STOPSIGNAL.
        stop_signal: Some("SIGQUIT"),
        database: None,
    })
}

/// The text of the configuration files the service mounts (`None` when one cannot be
/// read: then every service may be named).
fn mounted_configuration(context: &RecipeContext<'_>) -> Option<String> {
    let mut text = String::new();
    for mount in context.service.volumes.iter().filter(|m| m.kind == "bind") {
        let source = Path::new(&mount.source);
        if mount.target == CONF_D && source.is_dir() {
            for entry in std::fs::read_dir(source).ok()?.filter_map(Result::ok) {
                if entry.path().extension().is_some_and(|e| e == "conf") {
                    text.push_str(&std::fs::read_to_string(entry.path()).ok()?);
                }
            }
        } else if mount.target == MAIN_CONF || mount.target.starts_with(&format!("{CONF_D}/")) {
            text.push_str(&std::fs::read_to_string(source).ok()?);
        }
    }
    Some(text)
}

/// Whether `text` names `service` as a host: the name, not part of a longer one.
fn mentions(text: &str, service: &str) -> bool {
    let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    text.match_indices(service).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + service.len()..].chars().next();
        !before.is_some_and(host_char) && !after.is_some_and(host_char)
    })
}

/// `wharf recipe nginx`: write the configuration, then become nginx.
/// What `wharf recipe nginx` is given.
#[derive(Debug)]
pub struct NginxArgs {
    /// The service's own directory (configuration, pid, temporary files).
    prefix: PathBuf,
    /// Bind mounts, HOST=CONTAINER.
    mounts: Vec<String>,
    /// Container ports and their host ports, PORT=HOSTPORT.
    listens: Vec<String>,
    /// How services' ports are reached, SERVICE:PORT=HOSTPORT.
    resolves: Vec<String>,
}

impl NginxArgs {
    pub fn read(options: &Options) -> Result<Self, LaunchError> {
        let all = |key| options.all(key).into_iter().map(str::to_owned).collect();
        Ok(Self {
            prefix: options.path("prefix")?,
            mounts: all("mount"),
            listens: all("listen"),
            resolves: all("resolve"),
        })
    }
}

pub fn run(args: &NginxArgs) -> anyhow::Result<()> {
    let mounts = parse_pairs(&args.mounts, "--mount")?;
    let listens = parse_pairs(&args.listens, "--listen")?;
    let mut reachable: BTreeMap<String, Vec<PortSpec>> = BTreeMap::new();
    for (address, host) in parse_pairs(&args.resolves, "--resolve")? {
        let (service, target) = address
            .rsplit_once(':')
            .context("--resolve takes SERVICE:PORT=HOSTPORT")?;
        reachable
            .entry(service.to_owned())
            .or_default()
            .push(PortSpec {
                target: target.parse().context("--resolve port")?,
                published: host.parse().context("--resolve host port")?,
                host: None,
                ..Default::default()
            });
    }
    let rewrite = Rewrite {
        mounts: &mounts,
        listens: &listens,
        reachable: &reachable,
    };

    let conf_d = args.prefix.join("conf.d");
    for dir in [&conf_d, &args.prefix.join("logs"), &args.prefix.join("tmp")] {
        crate::create_data_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for old in std::fs::read_dir(&conf_d)?.filter_map(Result::ok) {
        std::fs::remove_file(old.path())?;
    }
    for (host, container) in &mounts {
        let host = Path::new(host);
        if container == CONF_D && host.is_dir() {
            for entry in std::fs::read_dir(host)?.filter_map(Result::ok) {
                let name = entry.file_name();
                if Path::new(&name).extension().is_some_and(|e| e == "conf") {
                    copy_rewritten(&entry.path(), &conf_d.join(&name), &rewrite)?;
                }
            }
        } else if let Some(name) = container.strip_prefix(&format!("{CONF_D}/")) {
            copy_rewritten(host, &conf_d.join(name), &rewrite)?;
        }
    }
    let main = main_conf(&args.prefix);
    if let Some((host, _)) = mounts.iter().find(|(_, container)| container == MAIN_CONF) {
        copy_rewritten(Path::new(host), &main, &rewrite)?;
    } else {
        let has_sites = std::fs::read_dir(&conf_d)?.next().is_some();
        if !has_sites {
            let html = rewrite.path(HTML);
            let listen = rewrite.listen("80");
            std::fs::write(
                conf_d.join("default.conf"),
                format!(
                    "server {{\n    listen {listen};\n    location / {{ root {html}; index index.html; }}\n}}\n"
                ),
            )?;
        }
        std::fs::write(&main, main_config(&args.prefix))?;
    }
    println!("starting nginx with {}", main.display());
    let nginx = find_program("nginx").context("nginx is not installed")?;
    let error = Command::new(nginx)
        .arg("-p")
        .arg(&args.prefix)
        .arg("-c")
        .arg(&main)
        .args(["-e", "stderr", "-g", "daemon off;"])
        .exec();
    Err(error).context("cannot run nginx")
}

fn parse_pairs(values: &[String], flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    values
        .iter()
        .map(|value| {
            value
                .split_once('=')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .with_context(|| format!("{flag} {value:?}: expected A=B"))
        })
        .collect()
}

/// Where the service's nginx reads its configuration: under its own prefix.
fn main_conf(prefix: &Path) -> PathBuf {
    prefix.join("nginx.conf")
}

/// What `wharf exec` adds to an `nginx` given neither `-c` nor `-p`, so it tests and
/// signals the service's nginx, not the machine's: `command` is the service's own,
/// the recipe's entrypoint (`wharf recipe nginx --prefix DIR …`).
pub fn exec_args(argv: &[String], command: &[String]) -> Vec<String> {
    if argv.iter().skip(1).any(|a| a == "-c" || a == "-p") {
        return Vec::new();
    }
    let prefix = command
        .get(3..)
        .and_then(|options| Options::parse(options).ok())
        .and_then(|options| options.path("prefix").ok());
    prefix.map_or_else(Vec::new, |prefix| {
        vec![
            "-p".to_owned(),
            prefix.display().to_string(),
            "-c".to_owned(),
            main_conf(&prefix).display().to_string(),
        ]
    })
}

fn main_config(prefix: &Path) -> String {
    let tmp = prefix.join("tmp");
    let mut text = String::new();
    let _ = write!(
        text,
        "worker_processes 1;\npid {pid};\nevents {{ worker_connections 1024; }}\nhttp {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n    access_log /dev/stdout;\n    sendfile on;\n",
        pid = prefix.join("nginx.pid").display()
    );
    for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(text, "    {kind}_temp_path {};", tmp.join(kind).display());
    }
    let _ = write!(
        text,
        "    include {}/*.conf;\n}}\n",
        prefix.join("conf.d").display()
    );
    text
}

struct Rewrite<'a> {
    /// (host path, container path) of each bind mount.
    mounts: &'a [(String, String)],
    /// (container port, host port).
    listens: &'a [(String, String)],
    reachable: &'a BTreeMap<String, Vec<PortSpec>>,
}

impl Rewrite<'_> {
    /// The host path of a container path under a bind mount, else the path itself.
    fn path(&self, container: &str) -> String {
        self.mounts
            .iter()
            .filter_map(|(host, target)| {
                let rest = Path::new(container).strip_prefix(target).ok()?;
                let path = if rest.as_os_str().is_empty() {
                    PathBuf::from(host)
                } else {
                    Path::new(host).join(rest)
                };
                Some((target.len(), path))
            })
            .max_by_key(|(depth, _)| *depth)
            .map_or_else(|| container.to_owned(), |(_, p)| p.display().to_string())
    }

    /// `listen` arguments for a container port: loopback and its host port.
    fn listen(&self, port: &str) -> String {
        let host = self
            .listens
            .iter()
            .find(|(container, _)| container == port)
            .map_or(port, |(_, host)| host.as_str());
        format!("127.0.0.1:{host}")
    }

    /// One line of configuration, statement by statement: a line may hold a whole
    /// block (`server { listen 80; … }`).
    fn line(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        for piece in line.split_inclusive(';') {
            // A statement starts after the last brace before its `;`.
            let start = piece.rfind(['{', '}']).map_or(0, |i| i + 1);
            let (before, statement) = piece.split_at(start);
            let trimmed = statement.trim_start();
            match trimmed
                .strip_prefix("listen")
                .filter(|r| r.starts_with(char::is_whitespace))
            {
                Some(arguments) => {
                    out.push_str(&self.text(before));
                    out.push_str(&statement[..statement.len() - trimmed.len()]);
                    out.push_str(&self.listen_statement(arguments.trim().trim_end_matches(';')));
                }
                None => out.push_str(&self.text(piece)),
            }
        }
        out
    }

    /// `listen` on loopback and the host port; an IPv6 `listen` is dropped, since wharf
    /// listens on IPv4 loopback only.
    fn listen_statement(&self, arguments: &str) -> String {
        let mut words = arguments.split_whitespace();
        let address = words.next().unwrap_or_default();
        if address.starts_with('[') {
            return String::new();
        }
        let port = address.rsplit(':').next().unwrap_or(address);
        let flags: Vec<&str> = words.collect();
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" {}", flags.join(" "))
        };
        format!("listen {}{flags};", self.listen(port))
    }

    /// Service references and mounted paths in any other text.
    fn text(&self, text: &str) -> String {
        let mut out = resolve_references(text, self.reachable);
        for (_, target) in self.mounts {
            if out.contains(target.as_str()) {
                let host = self.path(target);
                out = out.replace(target.as_str(), &host);
            }
        }
        out
    }
}

fn copy_rewritten(from: &Path, to: &Path, rewrite: &Rewrite<'_>) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(from).with_context(|| format!("cannot read {}", from.display()))?;
    if text.contains("\\\n") {
        bail!("{}: line continuations are not supported", from.display());
    }
    let rewritten: String = text.lines().map(|l| rewrite.line(l) + "\n").collect();
    std::fs::write(to, rewritten).with_context(|| format!("cannot write {}", to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_settings_become_host_ones() {
        let mounts = vec![("/srv/site".to_owned(), "/usr/share/nginx/html".to_owned())];
        let listens = vec![("80".to_owned(), "8080".to_owned())];
        let reachable = BTreeMap::from([(
            "web".to_owned(),
            vec![PortSpec {
                target: 8000,
                published: 18000,
                host: None,
                ..Default::default()
            }],
        )]);
        let rewrite = Rewrite {
            mounts: &mounts,
            listens: &listens,
            reachable: &reachable,
        };
        assert_eq!(
            rewrite.line("    listen 80 default_server;"),
            "    listen 127.0.0.1:8080 default_server;"
        );
        assert_eq!(rewrite.line("  listen [::]:80;"), "  ");
        assert_eq!(
            rewrite.line(
                "server { listen 80; listen [::]:80; location / { proxy_pass http://web:8000; } }"
            ),
            "server { listen 127.0.0.1:8080;  location / { proxy_pass http://127.0.0.1:18000; } }"
        );
        assert_eq!(
            rewrite.line("    server web:8000;"),
            "    server 127.0.0.1:18000;"
        );
        assert_eq!(
            rewrite.line("    proxy_pass http://web:8000/;"),
            "    proxy_pass http://127.0.0.1:18000/;"
        );
        assert_eq!(
            rewrite.line("    root /usr/share/nginx/html/static;"),
            "    root /srv/site/static;"
        );
    }
}
