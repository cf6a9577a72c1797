//! End-to-end tests of the workspace commands over real git repositories made in temp
//! dirs (bare remotes and clones, no network): checkout, update, revs, gitconfig,
//! repos exec, root and whoami, and tasks.

mod support;

use std::path::PathBuf;

use support::snapshot::{Filters, Transcript, assert_snapshot};
use support::{Stack, git};

/// Bare remotes under `<remotes>/<owner>/<name>.git`, each with one commit on main,
/// and a work clone of each to push further commits from.
struct Remotes {
    root: tempfile::TempDir,
}

impl Remotes {
    fn new(names: &[&str]) -> Self {
        let remotes = Self {
            root: tempfile::tempdir().unwrap(),
        };
        for name in names {
            let bare = remotes.bare(name);
            std::fs::create_dir_all(&bare).unwrap();
            git(&bare, &["init", "-q", "--bare", "-b", "main"]);
            let work = remotes.work(name);
            git(
                remotes.root.path(),
                &[
                    "clone",
                    "-q",
                    bare.to_str().unwrap(),
                    work.to_str().unwrap(),
                ],
            );
            std::fs::write(work.join("README"), format!("{name}\n")).unwrap();
            git(&work, &["add", "README"]);
            git(&work, &["commit", "-q", "-m", "first"]);
            git(&work, &["push", "-q", "origin", "HEAD:main"]);
        }
        remotes
    }

    fn bare(&self, name: &str) -> PathBuf {
        self.root.path().join("team").join(format!("{name}.git"))
    }

    fn work(&self, name: &str) -> PathBuf {
        self.root.path().join("work").join(name)
    }

    /// A new commit on the remote's main, changing `file`.
    fn push_commit(&self, name: &str, file: &str, text: &str) {
        let work = self.work(name);
        std::fs::write(work.join(file), text).unwrap();
        git(&work, &["add", file]);
        git(&work, &["commit", "-q", "-m", &format!("change {file}")]);
        git(&work, &["push", "-q", "origin", "HEAD:main"]);
    }
}

fn project(remotes: &Remotes, extra_repos: &str) -> Stack {
    let root = remotes.root.path().display();
    Stack::new(&format!(
        r#"name: workspace
services:
  web:
    image: debian
    x-wharf: {{process: {{command: ["sleep", "100"], working_dir: trees/web}}}}
x-wharf:
  owner: team
  directories: [media/uploads]
  repos:
    api: {{url: "{root}/{{user}}/api.git", path: trees/api}}
    web: {{url: "{root}/team/web.git", path: trees/web, migrate: migrate}}
{extra_repos}
  tasks:
    migrate: {{service: web, run: "sh -c 'echo migrated in $$PWD; git log -1 --format=%s'", description: Apply migrations}}
    greet: {{service: web, run: [echo, hello]}}
"#
    ))
}

fn stderr_of(stack: &Stack, args: &[&str]) -> (bool, String) {
    let output = stack.wharf(args);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn checkout_clones_the_missing_repos_keeps_present_ones_and_reports_a_failed_one() {
    let remotes = Remotes::new(&["api", "web"]);
    let stack = project(
        &remotes,
        &format!(
            "    gone: {{url: \"{}/team/gone.git\"}}",
            remotes.root.path().display()
        ),
    );
    let (ok, said) = stderr_of(&stack, &["checkout"]);
    assert!(!ok, "a failed clone makes checkout fail: {said}");
    assert!(said.contains("api") && said.contains("cloned"), "{said}");
    assert!(
        said.contains("gone") && said.contains("does not exist"),
        "{said}"
    );
    let trees = stack.dir.path().join("trees");
    assert_eq!(
        std::fs::read_to_string(trees.join("api/README")).unwrap(),
        "api\n"
    );
    assert!(trees.join("web/.git").is_dir());
    assert!(stack.dir.path().join("media/uploads").is_dir());
    assert!(
        !stack.dir.path().join("gone").exists(),
        "nothing half-cloned is left"
    );

    // Present repos are left alone, local work included.
    std::fs::write(trees.join("api/local.txt"), "mine").unwrap();
    let (_, said) = stderr_of(&stack, &["checkout", "api", "web"]);
    assert!(said.contains("present"), "{said}");
    assert_eq!(
        std::fs::read_to_string(trees.join("api/local.txt")).unwrap(),
        "mine"
    );

    let (ok, said) = stderr_of(&stack, &["checkout", "nosuch"]);
    assert!(!ok && said.contains("no repo `nosuch`"), "{said}");
}

#[test]
fn update_fast_forwards_skips_dirty_and_diverged_trees_and_reports_a_missing_remote() {
    let remotes = Remotes::new(&["api", "web", "lib"]);
    let stack = project(
        &remotes,
        &format!(
            "    lib: {{url: \"{}/team/lib.git\"}}",
            remotes.root.path().display()
        ),
    );
    stack.ok(&["checkout"]);
    let trees = stack.dir.path().join("trees");
    let (api, web) = (trees.join("api"), trees.join("web"));

    remotes.push_commit("api", "new.txt", "from upstream");
    remotes.push_commit("web", "README", "upstream edit\n");
    // web: an uncommitted edit of the file upstream changed.
    std::fs::write(web.join("README"), "my unsaved work\n").unwrap();
    // lib: a local commit while upstream moved too (diverged).
    remotes.push_commit("lib", "up.txt", "upstream");
    let lib = stack.dir.path().join("lib");
    std::fs::write(lib.join("mine.txt"), "local").unwrap();
    git(&lib, &["add", "mine.txt"]);
    git(&lib, &["commit", "-q", "-m", "local work"]);
    let lib_head = git(&lib, &["rev-parse", "HEAD"]);

    let (ok, said) = stderr_of(&stack, &["update", "--git"]);
    assert!(ok, "{said}");
    assert!(said.contains("updated (1 commit)"), "{said}");
    assert_eq!(
        std::fs::read_to_string(api.join("new.txt")).unwrap(),
        "from upstream"
    );
    // A dirty tree is fetched all the same, so how far behind it is shows.
    assert!(
        said.contains("1 uncommitted change (1 behind origin/"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(web.join("README")).unwrap(),
        "my unsaved work\n",
        "a dirty tree is never overwritten"
    );
    assert!(
        said.contains("diverged") && said.contains("1 ahead, 1 behind"),
        "{said}"
    );
    assert_eq!(
        git(&lib, &["rev-parse", "HEAD"]),
        lib_head,
        "a diverged branch is left as it was"
    );

    // A remote that vanished: that repo fails, the others still update.
    std::fs::remove_dir_all(remotes.bare("api")).unwrap();
    std::fs::write(web.join("README"), "web\n").unwrap();
    let (ok, said) = stderr_of(&stack, &["update", "--git", "api", "web"]);
    assert!(!ok, "{said}");
    assert!(said.contains("api") && said.contains("failed"), "{said}");
    assert!(
        said.contains("updated (1 commit)"),
        "web still updated: {said}"
    );
}

#[test]
fn revs_and_gitconfig_read_every_tree_without_the_network() {
    let remotes = Remotes::new(&["api", "web"]);
    let stack = project(&remotes, "");
    stack.ok(&["checkout"]);
    let api = stack.dir.path().join("trees/api");
    std::fs::write(api.join("README"), "edited\n").unwrap();
    std::fs::write(api.join("untracked.txt"), "x").unwrap();
    git(&api, &["config", "user.name", "Ann Example"]);
    git(&api, &["config", "user.email", "ann@example.org"]);
    remotes.push_commit("web", "b.txt", "b");
    git(&stack.dir.path().join("trees/web"), &["fetch", "-q"]);

    let revs: serde_json::Value =
        serde_json::from_str(&stack.ok(&["revs", "--format", "json"])).unwrap();
    let api_rev = &revs[0];
    assert_eq!(api_rev["name"], "api");
    assert_eq!(api_rev["branch"], "main");
    assert_eq!(
        api_rev["commit"].as_str().unwrap(),
        git(&api, &["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(
        (api_rev["changed"].as_u64(), api_rev["untracked"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (revs[1]["ahead"].as_u64(), revs[1]["behind"].as_u64()),
        (Some(0), Some(1))
    );
    let table = stack.ok(&["revs"]);
    assert!(
        table.contains("origin/main (+0 -1)") && table.contains("1 changed, 1 untracked"),
        "{table}"
    );

    let config = stack.ok(&["gitconfig"]);
    assert!(
        config.contains("Ann Example") && config.contains("ann@example.org"),
        "{config}"
    );
    assert!(
        config.contains(&format!("origin={}", remotes.bare("web").display())),
        "{config}"
    );

    let output = stack.wharf(&["repos", "exec", "--", "git", "log", "-1", "--format=%s"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("== api (ok)\nfirst\n") && text.contains("== web (ok)\nfirst\n"),
        "{text}"
    );
    let output = stack.wharf(&[
        "repos",
        "exec",
        "--repo",
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success() && text.contains("== web (exit 3)\nout\nerr\n"),
        "{text}"
    );
}

#[test]
fn root_and_whoami_are_the_users_settings_and_place_and_name_the_clones() {
    let remotes = Remotes::new(&["api", "web"]);
    let stack = project(&remotes, "");
    assert_eq!(
        stack.ok(&["whoami"]).trim(),
        "team",
        "the manifest's owner by default"
    );
    assert!(!stack.wharf(&["root"]).status.success(), "no root set yet");

    let elsewhere = tempfile::tempdir().unwrap();
    let root = stack
        .command(&["root", "$WHARF_TEST_ROOT/src"])
        .env("WHARF_TEST_ROOT", elsewhere.path())
        .output()
        .unwrap();
    assert!(
        root.status.success(),
        "{}",
        String::from_utf8_lossy(&root.stderr)
    );
    let expected = elsewhere.path().join("src");
    assert_eq!(stack.ok(&["root"]).trim(), expected.display().to_string());
    let settings = std::fs::read_to_string(stack.home.path().join("config/config.toml")).unwrap();
    assert!(settings.contains("root = "), "{settings}");

    // Another user: {user} now names an account that has no api.
    assert_eq!(stack.ok(&["whoami", "someone"]).trim(), "someone");
    assert_eq!(stack.ok(&["whoami"]).trim(), "someone");
    let (ok, said) = stderr_of(&stack, &["checkout"]);
    assert!(!ok && said.contains("someone/api.git"), "{said}");
    assert!(
        expected.join("trees/web/.git").is_dir(),
        "clones go under the root"
    );

    // A root given with `..` is kept clean; `--unset` forgets it; "" is no root.
    let dotted = format!("{}/src/../src2", elsewhere.path().display());
    assert_eq!(
        stack.ok(&["root", &dotted]).trim(),
        elsewhere.path().join("src2").display().to_string()
    );
    assert!(!stack.wharf(&["root", ""]).status.success());
    stack.ok(&["root", "--unset"]);
    assert!(
        !stack.wharf(&["root"]).status.success(),
        "no root set again"
    );

    std::fs::write(stack.home.path().join("config/config.toml"), "user = [1\n").unwrap();
    let (ok, said) = stderr_of(&stack, &["whoami"]);
    assert!(!ok && said.contains("config.toml:1:"), "{said}");
}

#[test]
fn tasks_run_in_their_service_and_update_runs_each_repos_migration() {
    let remotes = Remotes::new(&["api", "web"]);
    let stack = project(&remotes, "");
    let tasks = stack.ok(&["tasks"]);
    assert!(
        tasks.contains("migrate") && tasks.contains("Apply migrations"),
        "{tasks}"
    );
    let (ok, said) = stderr_of(&stack, &["task", "nosuch"]);
    assert!(
        !ok && said.contains("the project has: greet, migrate"),
        "{said}"
    );

    stack.ok(&["checkout"]);
    assert_eq!(
        stack.ok(&["task", "greet", "and", "more"]),
        "hello and more\n"
    );
    let web = stack.dir.path().join("trees/web").canonicalize().unwrap();
    let migrated = stack.ok(&["task", "migrate"]);
    assert!(
        migrated.contains(&format!("migrated in {}", web.display())),
        "{migrated}"
    );

    // `shell` with no name picks the service whose directory this is.
    let mut shell = stack
        .command(&["shell"])
        .current_dir(web.join("."))
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(shell.stdin.as_mut().unwrap(), b"echo shell in $PWD\n").unwrap();
    let output = shell.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("shell in {}", web.display())),
        "{text}"
    );
    let (ok, said) = stderr_of(&stack, &["shell"]);
    assert!(
        !ok && said.contains("name one"),
        "outside every service: {said}"
    );

    remotes.push_commit("web", "schema.sql", "create table");
    let output = stack.wharf(&["update"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("change schema.sql"),
        "the migration ran after the pull: {text}"
    );
}

#[test]
fn env_shows_each_documented_variable_with_its_origin_and_masks_secrets() {
    let stack = Stack::new(
        r#"name: documented
services:
  web:
    image: debian
    environment: {FROM_ENVIRONMENT: inline, EMPTY_SECRET: "${EMPTY_SECRET}", UNLISTED: given, PUBLIC_KEY: shown}
    env_file: [web.env]
x-wharf:
  env:
    EMPTY_SECRET: {secret: true, used_by: [web]}
    PUBLIC_KEY: {secret: false, used_by: [web]}
    UNLISTED: {default: documented, description: "no used_by: every service is looked at"}
    FROM_SHELL: {description: set in the shell}
    FROM_DOTENV: {description: set in .env}
    FROM_ENVIRONMENT: {used_by: [web]}
    FROM_ENV_FILE: {used_by: [web]}
    FROM_DEFAULT: {default: "localhost:11211", description: memcache location}
    NOWHERE: {description: nobody set it}
    API_SECRET: {secret: true, used_by: [web]}
"#,
    );
    std::fs::write(
        stack.dir.path().join(".env"),
        "FROM_DOTENV=dot\nFROM_SHELL=loses\n",
    )
    .unwrap();
    std::fs::write(
        stack.dir.path().join("web.env"),
        "FROM_ENV_FILE=filed\nAPI_SECRET=hunter2\n",
    )
    .unwrap();
    let output = stack
        .command(&["env", "--format", "json"])
        .env("FROM_SHELL", "shelled")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let row = |name: &str| {
        let row = rows.iter().find(|r| r["name"] == name).unwrap();
        (
            row["value"].as_str().map(str::to_owned),
            row["source"].as_str().map(str::to_owned),
        )
    };
    let pair = |value: &str, source: &str| (Some(value.to_owned()), Some(source.to_owned()));
    assert_eq!(row("FROM_SHELL"), pair("shelled", "shell"));
    assert_eq!(row("FROM_DOTENV"), pair("dot", ".env"));
    assert_eq!(
        row("FROM_ENVIRONMENT"),
        pair("inline", "environment of web")
    );
    assert_eq!(row("FROM_ENV_FILE"), pair("filed", "env_file web.env"));
    assert_eq!(row("FROM_DEFAULT"), pair("localhost:11211", "default"));
    assert_eq!(row("NOWHERE"), (None, None));
    assert_eq!(row("UNLISTED"), pair("given", "environment of web"));
    // `secret: false` is shown, though its name looks secret.
    assert_eq!(row("PUBLIC_KEY"), pair("shown", "environment of web"));
    assert_eq!(row("API_SECRET"), pair("********", "env_file web.env"));
    let shown = stack.ok(&["env", "--show-secrets"]);
    assert!(
        shown.contains("hunter2") && shown.contains("(unset)"),
        "{shown}"
    );
    // A secret set to nothing is shown so, and `check` says it is as good as missing.
    assert_eq!(row("EMPTY_SECRET"), pair("", "environment of web"));
    assert!(stack.ok(&["env"]).contains("(empty)"));
    let check = stack.wharf(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.lines()
            .any(|l| l.contains("EMPTY_SECRET") && l.contains("empty (environment of web)")),
        "{said}"
    );
}

#[test]
fn the_workspace_commands_read_as_pinned() {
    let remotes = Remotes::new(&["api", "web"]);
    let stack = project(
        &remotes,
        &format!(
            "    gone: {{url: \"{}/team/gone.git\"}}",
            remotes.root.path().display()
        ),
    );
    let mut transcript = Transcript::new(&stack);
    transcript.step("clone what is missing", &["checkout"]);
    transcript.step("the repos", &["repos", "ls"]);
    remotes.push_commit("api", "new.txt", "from upstream");
    let web = stack.dir.path().join("trees/web");
    std::fs::write(web.join("README"), "my unsaved work\n").unwrap();
    transcript.step("bring them up to date", &["update", "--git", "api", "web"]);
    transcript.step("where each stands", &["revs", "api", "web"]);
    transcript.step(
        "a command in each",
        &[
            "repos",
            "exec",
            "--repo",
            "api",
            "--",
            "git",
            "log",
            "-1",
            "--format=%s",
        ],
    );
    // Commits carry their time, so their ids differ from run to run.
    let mut filters = Filters::default()
        .text(&stack.dir.path().display(), "PROJECT")
        .text(&remotes.root.path().display(), "REMOTES");
    for tree in ["trees/api", "trees/web"] {
        let dir = stack.dir.path().join(tree);
        for commit in git(&dir, &["log", "--all", "--format=%H"]).lines() {
            // In full, and as long as revs and git show it.
            for length in [40, 12, 7] {
                filters = filters.text(&&commit[..length], "COMMIT");
            }
        }
    }
    assert_snapshot("workspace_commands", &transcript.text(), &filters);
}
