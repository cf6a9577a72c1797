//! End-to-end tests of `wharf db` against Debian's PostgreSQL and MariaDB run by the
//! recipes (installed by `scripts/test-all`): round trips byte for byte, snapshots
//! restored to identical checksums, and every replacement undoable.

mod support;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Stack, free_port};

/// `wharf db ARGS` with `input` on its standard input; stdout, asserting success.
fn db(stack: &Stack, args: &[&str], input: &str) -> String {
    succeeded(args, &db_output(stack, args, input))
}

fn db_output(stack: &Stack, args: &[&str], input: &str) -> std::process::Output {
    with_input(stack.command(&[&["db"], args].concat()), input)
}

/// Runs `command` with `input` on its standard input.
fn with_input(mut command: Command, input: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: not this
    // helper's failure, the caller asserts what the command did.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

/// The standard output of `wharf db ARGS`, which must have succeeded.
fn succeeded(args: &[&str], output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "wharf db {args:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A dump without pg_dump's per-dump random `\restrict` key.
fn comparable(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// PostgreSQL's own `pg_dump` with `args`, through `db`'s published port as its
/// superuser, in the project's folder.
fn pg_dump(stack: &Stack, args: &[&str]) {
    let address = stack.ok(&["port", "db", "5432"]);
    let (host, port) = address.trim().rsplit_once(':').unwrap();
    let status = Command::new("pg_dump")
        .args(["-h", host, "-p", port, "-U", "shop"])
        .args(args)
        .env("PGPASSWORD", "s3cret")
        .current_dir(stack.dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "pg_dump {args:?}: {status}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A project `name` whose `db` is PostgreSQL 15 (superuser `shop`, database `shopdb`)
/// on a free port, and an `app` that sleeps, followed by `more` (volumes, `x-wharf`),
/// given the port; the wharf home made reachable for the server.
fn postgres_project(name: &str, db_extra: &str, more: impl Fn(u16) -> String) -> Stack {
    let pg = free_port();
    let stack = Stack::new(&format!(
        r#"name: {name}
services:
  db:
    image: postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: shopdb}}
    ports: ["127.0.0.1:{pg}:5432"]
{db_extra}  app:
    image: debian
    x-wharf:
      process: {{command: ["sleep", "600"]}}
{}"#,
        more(pg)
    ));
    stack.reachable_home();
    stack
}

const PG_CHECKSUM: &str =
    "SELECT count(*) || ':' || md5(string_agg(i::text, ',' ORDER BY id)) FROM items i";

#[test]
fn postgres_databases_round_trip_snapshot_and_undo_without_losing_anything() {
    if !support::have_servers() {
        return;
    }
    let stack = postgres_project(
        "pgdb",
        "    volumes: [dbdata:/var/lib/postgresql/data]\n",
        |pg| {
            format!(
                r#"volumes:
  dbdata:
x-wharf:
  tasks:
    migrate:
      service: app
      run: ["psql", "postgres://shop:s3cret@127.0.0.1:{pg}/shopdb", "-c", "CREATE TABLE items (id int PRIMARY KEY, name text)"]
  databases:
    shopdb: {{service: db, migrate: migrate, seed: [seed.sql.gz]}}
"#
            )
        },
    );
    let seed = Command::new("sh")
        .arg("-c")
        .arg("printf \"INSERT INTO items VALUES (1, 'seeded');\\n\" | gzip > seed.sql.gz")
        .current_dir(stack.dir.path())
        .status()
        .unwrap();
    assert!(seed.success());
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);

    // Reset on a fresh server: create, migrate (a task in another service), seed.
    let said = db(&stack, &["reset", "--yes"], "");
    assert!(
        said.contains("ran migrate") && said.contains("loaded seed.sql.gz"),
        "{said}"
    );
    let sql = |query: &str| db(&stack, &["shell", "--", "-At"], query).trim().to_owned();
    assert_eq!(sql("SELECT name FROM items"), "seeded");
    db(
        &stack,
        &["shell"],
        "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(2, 5000) g;",
    );
    let original = sql(PG_CHECKSUM);
    assert!(original.starts_with("5000:"), "{original}");
    // A reset whose seed fails puts the database back as it was.
    let good_seed = std::fs::read(stack.dir.path().join("seed.sql.gz")).unwrap();
    let bad = Command::new("sh")
        .current_dir(stack.dir.path())
        .arg("-c")
        .arg("printf \"INSERT INTO nosuch VALUES (1);\\n\" | gzip > seed.sql.gz")
        .status()
        .unwrap();
    assert!(bad.success());
    let failed = db_output(&stack, &["reset", "--yes"], "");
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success()
            && said.contains("loading seed.sql.gz failed")
            && said.contains("shopdb is put back as it was")
            && said.contains("is shopdb again"),
        "{said}"
    );
    assert_eq!(sql(PG_CHECKSUM), original);
    std::fs::write(stack.dir.path().join("seed.sql.gz"), good_seed).unwrap();
    let listed = db(&stack, &["ls", "--format", "json"], "");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "shopdb" && d["service"] == "db"),
        "{listed}"
    );

    // Dumps in every format load back to the same dump, and are private.
    let dir = stack.dir.path();
    let dump = db(&stack, &["dump"], "");
    for (n, file) in ["d.sql", "d.sql.gz", "d.sql.zst"].into_iter().enumerate() {
        db(&stack, &["dump", "-o", file], "");
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        let copy = format!("copy{n}");
        db(&stack, &["load", &copy, file], "");
        assert_eq!(
            comparable(&db(&stack, &["dump", &copy], "")),
            comparable(&dump),
            "{file}"
        );
    }
    // pg_dump's own archive (`-Fc`) of a database whose table a role of another
    // server owns: loaded without owners, as wharf's own dumps are. Plain SQL with
    // that owner stops, saying why and how to load it.
    db(&stack, &["create", "prod"], "");
    db(
        &stack,
        &["shell", "prod"],
        "CREATE ROLE produser; CREATE TABLE t (id int); INSERT INTO t VALUES (7); ALTER TABLE t OWNER TO produser;",
    );
    pg_dump(&stack, &["-Fc", "-f", "prod.dump", "prod"]);
    pg_dump(&stack, &["-f", "prod.sql", "prod"]);
    db(&stack, &["shell"], "ALTER ROLE produser RENAME TO gone;");
    db(&stack, &["load", "fromarchive", "prod.dump"], "");
    assert_eq!(
        db(
            &stack,
            &["shell", "fromarchive", "--", "-At"],
            "SELECT id FROM t"
        )
        .trim(),
        "7"
    );
    let output = db_output(&stack, &["load", "fromplain", "prod.sql"], "");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && said.contains("role \"produser\" does not exist")
            && said.contains("--no-owner"),
        "{said}"
    );
    db(&stack, &["drop", "prod", "--yes"], "");
    db(&stack, &["drop", "fromarchive", "--yes"], "");

    // Over the database itself, from standard input: the same dump again.
    let output = db_output(&stack, &["load", "shopdb", "-"], &dump);
    assert!(
        !output.status.success(),
        "replacing asks, and without a terminal fails"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    db(&stack, &["load", "shopdb", "-", "--yes"], &dump);
    assert_eq!(comparable(&db(&stack, &["dump"], "")), comparable(&dump));
    assert_eq!(sql(PG_CHECKSUM), original);

    // A dump that fails halfway changes nothing, and leaves nothing beside.
    let before = db(&stack, &["ls"], "");
    let broken = format!("{}\nNOT SQL AT ALL;\n", &dump[..dump.len() / 2]);
    let output = db_output(&stack, &["load", "shopdb", "-", "--yes"], &broken);
    assert!(!output.status.success());
    assert_eq!(sql(PG_CHECKSUM), original);
    assert_eq!(db(&stack, &["ls"], ""), before);
    // A file that connects to another database (as `pg_dump -C` writes) is stopped
    // at that line: the other database (copy0 here) is left as it was.
    let copy0 = comparable(&db(&stack, &["dump", "copy0"], ""));
    let leaving = "CREATE TABLE mine (id int);\n\\connect copy0\nDROP TABLE items;\n";
    let output = db_output(&stack, &["load", "shopdb", "-", "--yes"], leaving);
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stderr)
                .contains("standard input: line 2 connects to another database"),
        "{output:?}"
    );
    assert_eq!(comparable(&db(&stack, &["dump", "copy0"], "")), copy0);
    assert_eq!(sql(PG_CHECKSUM), original);
    assert_eq!(db(&stack, &["ls"], ""), before);
    // psql's commands later in a line, which no look at a line's start sees, are
    // refused by psql's restricted mode.
    let marker = stack.dir.path().join("ran");
    let later = format!(
        "CREATE TABLE mine (id int);\nSELECT 1; \\! touch {}\n",
        marker.display()
    );
    let output = db_output(&stack, &["load", "shopdb", "-", "--yes"], &later);
    assert!(
        !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("restricted"),
        "{output:?}"
    );
    assert!(!marker.exists(), "the command ran");
    assert_eq!(sql(PG_CHECKSUM), original);
    // A dump cut off between statements loads without an SQL error, but pg_dump's
    // last line is missing: nothing changes.
    let cut = &dump[..dump.find("-- PostgreSQL database dump complete").unwrap()];
    let output = db_output(&stack, &["load", "shopdb", "-", "--yes"], cut);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("it is cut short"),
        "{output:?}"
    );
    assert_eq!(sql(PG_CHECKSUM), original);
    assert_eq!(db(&stack, &["ls"], ""), before);
    // A dump that cannot be made leaves no file under its name.
    let output = db_output(&stack, &["dump", "nosuch", "-o", "gone.sql"], "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database `nosuch`"));
    assert!(!dir.join("gone.sql").exists());

    // Snapshot, change, restore: identical checksums; --undo brings the change back.
    db(&stack, &["snapshot", "--tag", "before-cleanup"], "");
    // `-p NAME` reaches the project's databases from anywhere, as it reaches `ps`.
    let elsewhere = stack
        .command(&["-p", "pgdb", "db", "snapshots"])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&elsewhere.stdout).contains("before-cleanup"),
        "{elsewhere:?}"
    );
    db(&stack, &["shell"], "DELETE FROM items WHERE id % 2 = 0;");
    let changed = sql(PG_CHECKSUM);
    assert_ne!(changed, original);
    db(&stack, &["restore", "before-cleanup", "--yes"], "");
    assert_eq!(sql(PG_CHECKSUM), original);
    db(&stack, &["restore", "--undo", "--yes"], "");
    assert_eq!(sql(PG_CHECKSUM), changed);
    db(&stack, &["restore", "before-cleanup", "--yes"], "");

    // Drop asks; with --yes it drops, and --undo brings it back.
    let output = db_output(&stack, &["drop", "shopdb"], "");
    assert!(!output.status.success());
    assert_eq!(
        sql(PG_CHECKSUM),
        original,
        "nothing dropped without an answer"
    );
    db(&stack, &["drop", "shopdb", "--yes"], "");
    assert!(!db(&stack, &["ls"], "").contains("shopdb"));
    db(&stack, &["restore", "--undo", "--yes"], "");
    assert_eq!(sql(PG_CHECKSUM), original);

    // The server's own `postgres` database, the image's when POSTGRES_DB is unset.
    db(
        &stack,
        &["shell", "postgres"],
        "CREATE TABLE mine AS SELECT 1 AS one;",
    );
    db(&stack, &["snapshot", "postgres", "--tag", "own"], "");
    let said = db(&stack, &["reset", "postgres", "--yes"], "");
    assert!(
        said.contains("reset postgres: it is empty, as nothing fills it"),
        "{said}"
    );
    db(&stack, &["restore", "own", "--yes"], "");
    let own = db(
        &stack,
        &["shell", "postgres", "--", "-At"],
        "SELECT one FROM mine",
    );
    assert_eq!(own.trim(), "1");

    // A clone for a test run; snapshots and their records are private.
    db(&stack, &["clone", "shopdb", "shop_test"], "");
    let cloned = db(&stack, &["shell", "shop_test", "--", "-At"], PG_CHECKSUM);
    assert_eq!(cloned.trim(), original);
    let records = stack.home.path().join("data/projects/pgdb/snapshots");
    assert_eq!(mode(&records), 0o700);
    assert_eq!(mode(&records.join("before-cleanup.json")), 0o600);
    let snapshots = db(&stack, &["snapshots", "--format", "json"], "");
    let snapshots: Vec<serde_json::Value> = serde_json::from_str(&snapshots).unwrap();
    let automatic = snapshots
        .iter()
        .filter(|s| !s["automatic"].is_null() && s["database"] == "shopdb")
        .count();
    assert!(
        (1..=3).contains(&automatic),
        "automatic ones are pruned: {snapshots:?}"
    );
    let output = db_output(&stack, &["snapshot", "rm", "before-cleanup"], "");
    assert!(!output.status.success(), "removing a snapshot asks");
    db(&stack, &["snapshot", "rm", "before-cleanup", "--yes"], "");
    assert!(!records.join("before-cleanup.json").exists());
    assert!(
        !db(
            &stack,
            &["shell", "--", "-At"],
            "SELECT datname FROM pg_database"
        )
        .lines()
        .any(|name| snapshots
            .iter()
            .any(|s| s["tag"] == "before-cleanup" && s["stored_as"] == name)),
        "the snapshot's database is gone too"
    );
    // A paused server would take connections and never answer: said at once.
    stack.ok(&["pause", "db"]);
    let output = db_output(&stack, &["ls"], "");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("db is paused: `wharf unpause db`"), "{said}");
    let output = stack.wharf(&["exec", "-T", "db", "true"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("service db is paused"), "{said}");
    stack.ok(&["unpause", "db"]);
    // A stopped server is said to be stopped, at once, not to refuse connections.
    stack.ok(&["stop", "db"]);
    let asked = std::time::Instant::now();
    let output = db_output(&stack, &["dump"], "");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("db is not running (stopped): `wharf up -d db` starts it"),
        "{output:?}"
    );
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // And a project that is down, without naming a socket it never had.
    stack.ok(&["down"]);
    let output = db_output(&stack, &["dump"], "");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("db is not running: `wharf up -d db` starts it") && !said.contains("socket"),
        "{said}"
    );
}

#[test]
fn mariadb_databases_round_trip_snapshot_and_undo_without_losing_anything() {
    if !support::have_servers() {
        return;
    }
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: mydb
services:
  db:
    image: mariadb:10.11
    environment: {{MARIADB_ROOT_PASSWORD: "it's root", MARIADB_DATABASE: shop, MARIADB_USER: app, MARIADB_PASSWORD: apppw}}
    ports: ["127.0.0.1:{port}:3306"]
"#
    ));
    stack.reachable_home();
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    db(
        &stack,
        &["shell"],
        "CREATE TABLE items (id int PRIMARY KEY, name text, loud text AS (upper(name)) VIRTUAL);\n\
         INSERT INTO items (id, name) SELECT seq, concat('row ', seq) FROM seq_1_to_3000;",
    );
    let checksum =
        "SELECT concat(count(*), ':', md5(group_concat(id, name, loud ORDER BY id))) FROM items;";
    let sql = |query: &str| db(&stack, &["shell", "--", "-N"], query).trim().to_owned();
    let original = sql(checksum);
    assert!(original.starts_with("3000:"), "{original}");

    // Sizes follow the rows at once, not InnoDB's statistics, which lag behind.
    let size = || {
        let listed: serde_json::Value =
            serde_json::from_str(&db(&stack, &["ls", "--format", "json"], "")).unwrap();
        listed[0]["size"].as_u64().unwrap()
    };
    let before = size();
    db(
        &stack,
        &["shell"],
        "CREATE TABLE bulk (t text);\n\
         INSERT INTO bulk SELECT repeat('x', 1000) FROM seq_1_to_20000;",
    );
    let grown = size();
    assert!(grown > before + 10_000_000, "{before} then {grown}");
    db(&stack, &["shell"], "DROP TABLE bulk;");

    // Dump, load over the database, dump again: the same bytes.
    let dump = db(&stack, &["dump"], "");
    db(&stack, &["dump", "-o", "shop.sql.zst"], "");
    db(&stack, &["load", "shop.sql.zst", "--yes"], "");
    assert_eq!(db(&stack, &["dump"], ""), dump);
    assert_eq!(sql(checksum), original);

    // A new database gets the image's character set; one of its own is kept through
    // a snapshot and a restore, for the tables a migration makes in it later.
    let charset = "SELECT default_character_set_name FROM information_schema.schemata \
                   WHERE schema_name = 'shop';";
    assert_eq!(sql(charset), "utf8mb4");
    db(
        &stack,
        &["shell"],
        "ALTER DATABASE shop CHARACTER SET latin1;",
    );
    db(&stack, &["snapshot", "--tag", "t1"], "");
    db(
        &stack,
        &["shell"],
        "UPDATE items SET name = 'changed' WHERE id < 100;",
    );
    let changed = sql(checksum);
    db(&stack, &["restore", "t1", "--yes"], "");
    assert_eq!(sql(checksum), original);
    assert_eq!(sql(charset), "latin1");
    db(
        &stack,
        &["shell"],
        "ALTER DATABASE shop CHARACTER SET utf8mb4;",
    );
    db(&stack, &["restore", "--undo", "--yes"], "");
    assert_eq!(sql(checksum), changed);

    // The client's commands later in a line are refused by its sandbox.
    let marker = stack.dir.path().join("ran");
    let later = format!(
        "CREATE TABLE x (id int);\nSELECT 1; \\! touch {}\n",
        marker.display()
    );
    let output = db_output(&stack, &["load", "-", "--yes"], &later);
    assert!(
        !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("sandbox"),
        "{output:?}"
    );
    assert!(!marker.exists(), "the command ran");
    // A failed load leaves the database as it was.
    let output = db_output(
        &stack,
        &["load", "-", "--yes"],
        "CREATE TABLE x (id int);\nBROKEN;\n",
    );
    assert!(!output.status.success());
    assert_eq!(sql(checksum), changed);
    assert_eq!(
        db(&stack, &["ls", "--format", "json"], "")
            .matches("\"name\"")
            .count(),
        1,
        "nothing left beside shop"
    );
    // Views, triggers and routines go with the tables: through a snapshot and a
    // restore, a drop and its undo, and a dump loaded into a new database.
    db(
        &stack,
        &["shell"],
        "CREATE TABLE audit (id int);\n\
         CREATE VIEW v AS SELECT id FROM items WHERE id <= 10;\n\
         CREATE TABLE shop (id int);\n\
         INSERT INTO shop VALUES (5);\n\
         CREATE VIEW named AS SELECT shop.id FROM items shop WHERE shop.id <= 2 \
           UNION ALL SELECT shop.shop.id FROM shop.shop;\n\
         CREATE VIEW a_first AS SELECT id FROM named;\n\
         CREATE TRIGGER noted AFTER INSERT ON items FOR EACH ROW INSERT INTO audit VALUES (NEW.id);\n\
         CREATE FUNCTION twice(x int) RETURNS int DETERMINISTIC RETURN x * 2;\n\
         CREATE FUNCTION spaced() RETURNS text DETERMINISTIC RETURN CONCAT('a\\\\b', '\t', 'c');\n\
         CREATE TABLE notes (id int PRIMARY KEY, body text) CHARACTER SET utf8mb4;\n\
         INSERT INTO notes VALUES (1, '🐳é');\n\
         CREATE FUNCTION whale() RETURNS text CHARACTER SET utf8mb4 DETERMINISTIC RETURN '🐳é';",
    );
    // Four-byte UTF-8 as written, through the shell and the routine made again.
    let whale = "SELECT concat(HEX(body), ':', HEX(whale())) FROM notes;";
    let written = db(&stack, &["shell", "--", "-N"], whale);
    assert_eq!(written.trim(), "F09F90B3C3A9:F09F90B3C3A9");
    let objects = "INSERT INTO items (id, name) VALUES (100000, 'new');\n\
                   SELECT concat((SELECT COUNT(*) FROM v), ':', (SELECT COUNT(*) FROM audit), ':', twice(21));";
    db(&stack, &["snapshot", "--tag", "with-objects"], "");
    db(&stack, &["restore", "with-objects", "--yes"], "");
    assert_eq!(
        db(&stack, &["shell", "--", "-N"], objects).trim(),
        "10:1:42"
    );
    // A table, and an alias, named as the database: the view still reads them; a
    // view read by one named before it is made first.
    assert_eq!(
        db(
            &stack,
            &["shell", "--", "-N"],
            "SELECT group_concat(id ORDER BY id) FROM a_first;"
        )
        .trim(),
        "1,2,5"
    );
    assert_eq!(db(&stack, &["shell", "--", "-N"], whale), written);
    // A routine whose text holds a backslash and a tab comes back as written.
    assert_eq!(
        db(&stack, &["shell", "--", "-N"], "SELECT HEX(spaced());").trim(),
        "615C620963"
    );
    db(&stack, &["drop", "shop", "--yes"], "");
    db(&stack, &["restore", "--undo", "--yes"], "");
    assert_eq!(
        db(
            &stack,
            &["shell", "--", "-N"],
            "SELECT COUNT(*) FROM audit;"
        )
        .trim(),
        "1",
        "the table, its trigger's rows, back"
    );
    let with_objects = db(&stack, &["dump"], "");
    db(&stack, &["load", "copy", "-"], &with_objects);
    assert_eq!(
        db(
            &stack,
            &["shell", "copy", "--", "-N"],
            "SELECT concat((SELECT COUNT(*) FROM v), ':', twice(2));"
        )
        .trim(),
        "10:4"
    );
    // Views the app's own user made (as its migrations do), which the image grants
    // its database alone: a clone and a snapshot's restore make them again.
    let as_app = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!(
            "--socket={}",
            stack
                .home
                .path()
                .join("data/projects/mydb/sockets/db/mysqld.sock")
                .display()
        ))
        .args(["--user=app", "shop", "-e"])
        .arg("CREATE VIEW by_app AS SELECT id FROM v; CREATE VIEW by_app_too AS SELECT id FROM by_app;")
        .env("MYSQL_PWD", "apppw")
        .status()
        .unwrap();
    assert!(as_app.success());
    db(&stack, &["snapshot", "--tag", "app-views"], "");
    db(&stack, &["clone", "shop", "appclone"], "");
    db(&stack, &["restore", "app-views", "--yes"], "");
    for database in ["shop", "appclone"] {
        assert_eq!(
            db(
                &stack,
                &["shell", database, "--", "-N"],
                "SELECT COUNT(*) FROM by_app_too;"
            )
            .trim(),
            "10",
            "{database}"
        );
    }
    // A clone's trigger that names its database writes into the clone, not the source.
    db(
        &stack,
        &["shell"],
        "CREATE TRIGGER qualified AFTER UPDATE ON items FOR EACH ROW INSERT INTO shop.audit VALUES (NEW.id);",
    );
    db(&stack, &["clone", "shop", "shopclone"], "");
    let audits = "SELECT concat((SELECT COUNT(*) FROM shop.audit), ':', (SELECT COUNT(*) FROM shopclone.audit));";
    let before = db(&stack, &["shell", "--", "-N"], audits);
    db(
        &stack,
        &["shell", "shopclone"],
        "UPDATE items SET name = 'cloned' WHERE id = 1;",
    );
    let counts =
        |text: &str| -> Vec<u64> { text.trim().split(':').map(|n| n.parse().unwrap()).collect() };
    let (was, now) = (
        counts(&before),
        counts(&db(&stack, &["shell", "--", "-N"], audits)),
    );
    assert_eq!(now, [was[0], was[1] + 1], "{before} then {now:?}");
    // Names differing in case only are two databases, each kept apart.
    db(&stack, &["create", "Mixed"], "");
    db(
        &stack,
        &["shell", "Mixed"],
        "CREATE TABLE upper_one (id int);",
    );
    db(&stack, &["create", "mixed"], "");
    db(&stack, &["drop", "Mixed", "--yes"], "");
    let listed = db(&stack, &["ls", "--format", "json"], "");
    assert!(
        listed.contains("\"mixed\"") && !listed.contains("\"Mixed\""),
        "{listed}"
    );
    db(&stack, &["restore", "--undo", "--yes"], "");
    assert_eq!(
        db(&stack, &["shell", "Mixed", "--", "-N"], "SHOW TABLES;").trim(),
        "upper_one"
    );
    // A view that no longer works cannot be made again in a copy: a drop (which
    // keeps a copy) says which view, and changes nothing until it is fixed.
    db(&stack, &["create", "brk"], "");
    db(
        &stack,
        &["shell", "brk"],
        "CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t; DROP TABLE t;",
    );
    let output = db_output(&stack, &["drop", "brk", "--yes"], "");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && said.contains("View 'brk.v'") && said.contains("DROP VIEW"),
        "{said}"
    );
    assert!(db(&stack, &["ls"], "").contains("brk"));
    db(&stack, &["shell", "brk"], "DROP VIEW v;");
    db(&stack, &["drop", "brk", "--yes"], "");
    // A later password in the file does not reach the server; the error says why.
    let file = std::fs::read_to_string(stack.dir.path().join("compose.yaml")).unwrap();
    stack.write(&file.replace("it's root", "another"));
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    let output = db_output(&stack, &["ls"], "");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("a server keeps the password its data was first made with"),
        "{output:?}"
    );
}

#[test]
fn with_two_servers_each_database_is_found_on_its_own_and_a_stopped_one_is_said() {
    if !support::have_servers() {
        return;
    }
    let (one, two) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: pgtwo
services:
  db:
    image: postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: shopdb}}
    ports: ["127.0.0.1:{one}:5432"]
  analytics:
    image: postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: events}}
    ports: ["127.0.0.1:{two}:5432"]
"#
    ));
    stack.reachable_home();
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    // A database only one server holds needs no --service.
    db(&stack, &["shell", "events"], "CREATE TABLE seen (id int);");
    let tables = db(&stack, &["shell", "events", "--", "-At"], "\\dt");
    assert!(tables.contains("seen"), "{tables}");

    let output = db_output(&stack, &["--service", "db", "shell", "nosuch"], "SELECT 1;");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no database `nosuch`"),
        "{output:?}"
    );
    let output = db_output(
        &stack,
        &["--service", "db", "drop", "template1", "--yes"],
        "",
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("one of db's system databases"),
        "{output:?}"
    );

    stack.ok(&["stop", "analytics"]);
    let output = db_output(&stack, &["ls"], "");
    let (listed, said) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{said}");
    assert!(
        listed.contains("shopdb") && !listed.contains("events"),
        "{listed}"
    );
    assert!(
        said.contains("analytics is not running") && said.contains("wharf up -d analytics"),
        "{said}"
    );
    // With every server stopped, the same: said, and no failure.
    stack.ok(&["stop"]);
    let output = db_output(&stack, &["ls"], "");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("db is not running"));
}

/// Whether the engine answers and has the server images `scripts/build-test-images`
/// makes; fails saying what to run, unless WHARF_SKIP_DOCKER=1 (then `false`: skip).
fn server_images_ready() -> bool {
    let has = |image: &str| {
        Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("wharf-test/postgres:15") && has("wharf-test/mariadb:10.11") {
        return true;
    }
    assert!(
        std::env::var_os("WHARF_SKIP_DOCKER").is_some(),
        "these tests need a Docker engine with the server images: run scripts/test-all, or start dockerd and run scripts/build-test-images (WHARF_SKIP_DOCKER=1 skips)"
    );
    false
}

#[test]
fn databases_in_containers_are_reached_through_the_engine_without_host_clients() {
    if !server_images_ready() {
        return;
    }
    // A name of its own: containers of an earlier run would be reused as they are.
    let stack = Stack::new(&format!(
        r#"name: dbincontainers{}
services:
  pg:
    image: wharf-test/postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: shopdb}}
    ports: ["127.0.0.1::5432"]
    x-wharf: {{backend: docker}}
  my:
    image: wharf-test/mariadb:10.11
    environment: {{MARIADB_ROOT_PASSWORD: r00t, MARIADB_DATABASE: shop}}
    ports: ["127.0.0.1::3306"]
    x-wharf: {{backend: docker}}
  bare:
    image: wharf-test/postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: shopdb}}
    x-wharf: {{backend: docker}}
"#,
        std::process::id()
    ));
    // No client program of this machine's: everything runs in the containers.
    let db = |args: &[&str], input: &str| {
        let mut command = stack.command(&[&["db"], args].concat());
        command.env("PATH", "/nonexistent");
        succeeded(args, &with_input(command, input))
    };
    // A shell opened as the server starts for the first time waits for the server that
    // stays, not the one the image runs to set itself up, and stops under it.
    stack.ok(&["up", "-d", "bare"]);
    let listens = db(
        &["--service", "bare", "shell", "--", "-At"],
        "SELECT current_setting('listen_addresses');",
    );
    assert_eq!(listens.trim(), "*");
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "180"]);

    let listed = db(&["ls"], "");
    assert!(
        listed.contains("shopdb") && listed.contains("shop "),
        "{listed}"
    );
    // Of several servers, a database only one has names its server; one that two
    // have, or none, needs --service.
    assert!(db(&["dump", "shop"], "").contains("-- Dump completed"));
    for (name, said) in [
        (
            "shopdb",
            "several of the project's database servers have a database shopdb (bare, pg)",
        ),
        ("nosuch", "and none has a database nosuch"),
    ] {
        let refused = stack
            .command(&["db", "dump", name])
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && stderr.contains(said),
            "{stderr}"
        );
    }
    db(
        &["--service", "pg", "shell"],
        "CREATE TABLE items AS SELECT g AS id, 'row ' || g AS name FROM generate_series(1, 2000) g;",
    );
    let pg_sum = |db_args: &[&str]| {
        db(
            &[&["--service", "pg", "shell"], db_args, &["--", "-At"]].concat(),
            PG_CHECKSUM,
        )
        .trim()
        .to_owned()
    };
    let original = pg_sum(&[]);
    assert!(original.starts_with("2000:"), "{original}");
    let dump = db(&["--service", "pg", "dump"], "");
    db(&["--service", "pg", "load", "copy", "-"], &dump);
    assert_eq!(
        comparable(&db(&["--service", "pg", "dump", "copy"], "")),
        comparable(&dump)
    );
    db(&["--service", "pg", "snapshot", "--tag", "pg1"], "");
    db(
        &["--service", "pg", "shell"],
        "DELETE FROM items WHERE id > 10;",
    );
    db(&["restore", "pg1", "--yes"], "");
    assert_eq!(pg_sum(&[]), original);

    db(
        &["--service", "my", "shell"],
        "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT seq, concat('row ', seq) FROM seq_1_to_500;",
    );
    let my_sum = || {
        db(
            &["--service", "my", "shell", "--", "-N"],
            "SELECT concat(count(*), ':', md5(group_concat(id, name ORDER BY id))) FROM items;",
        )
        .trim()
        .to_owned()
    };
    let original = my_sum();
    assert!(original.starts_with("500:"), "{original}");
    db(&["--service", "my", "snapshot", "--tag", "my1"], "");
    // A snapshot goes back only to the server it was taken on.
    let pg_before = pg_sum(&[]);
    let elsewhere = stack
        .command(&["db", "--service", "my", "restore", "pg1", "--yes"])
        .output()
        .unwrap();
    assert!(
        !elsewhere.status.success()
            && String::from_utf8_lossy(&elsewhere.stderr).contains("was taken on pg, not my"),
        "{elsewhere:?}"
    );
    assert_eq!(pg_sum(&[]), pg_before);
    db(&["--service", "my", "shell"], "DELETE FROM items;");
    db(&["restore", "my1", "--yes"], "");
    assert_eq!(my_sum(), original);
    let dump = db(&["--service", "my", "dump"], "");
    db(&["--service", "my", "load", "-", "--yes"], &dump);
    assert_eq!(db(&["--service", "my", "dump"], ""), dump);
    stack.ok(&["down", "-v", "--yes"]);
}

#[test]
fn migrations_wait_for_the_server_and_restores_say_when_the_code_moved_on() {
    if !support::have_servers() {
        return;
    }
    let stack = postgres_project("pgrepos", "", |pg| {
        format!(
            r#"x-wharf:
  repos:
    api: {{url: "file:///nonexistent/api.git", path: api, migrate: migrate}}
  tasks:
    migrate:
      service: app
      run: ["psql", "postgres://shop:s3cret@127.0.0.1:{pg}/shopdb", "-c", "CREATE TABLE items (id int)"]
"#
        )
    });
    let api = stack.dir.path().join("api");
    std::fs::create_dir(&api).unwrap();
    support::git(&api, &["init", "-q", "-b", "main"]);
    support::git(&api, &["commit", "-q", "--allow-empty", "-m", "first"]);

    // `up -d` returns once the server's process runs, before its first initdb is
    // done: the migration waits for it rather than failing to connect.
    stack.ok(&["up", "-d"]);
    stack.ok(&["update", "--migrations"]);
    assert_eq!(
        db(
            &stack,
            &["shell", "--", "-At"],
            "SELECT count(*) FROM items"
        )
        .trim(),
        "0"
    );

    db(&stack, &["snapshot", "--tag", "at-first"], "");
    let json = db(&stack, &["snapshots", "--format", "json"], "");
    let first = support::git(&api, &["rev-parse", "HEAD"]);
    assert!(
        json.contains(first.trim()),
        "the revision is recorded: {json}"
    );
    support::git(&api, &["commit", "-q", "--allow-empty", "-m", "second"]);
    // Restoring data of older code says so and asks; without a terminal, nothing
    // happens until --yes.
    let output = db_output(&stack, &["restore", "at-first"], "");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(&format!("it was taken with api at {}", &first.trim()[..12])),
        "{said}"
    );
    db(&stack, &["restore", "at-first", "--yes"], "");
}

/// The processes whose command line mentions `needle`, but for this test's own.
/// The command lines naming `needle` of processes started under `home` (their
/// environment holds it: tests running beside this one have homes of their own).
fn processes_mentioning(needle: &str, home: &std::path::Path) -> Vec<String> {
    let home = home.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let environ = std::fs::read(dir.join("environ")).ok()?;
            let ours = String::from_utf8_lossy(&environ).contains(&home);
            (ours && text.contains(needle)).then_some(text)
        })
        .collect()
}

#[test]
fn ctrl_c_during_a_resets_migration_puts_the_database_back() {
    if !support::have_servers() {
        return;
    }
    let stack = postgres_project("pgctrlc", "", |_| {
        r#"x-wharf:
  tasks:
    migrate: {service: app, run: ["sleep", "617"]}
  databases:
    shopdb: {service: db, migrate: migrate}
"#
        .to_owned()
    });
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    db(
        &stack,
        &["shell"],
        "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1);",
    );
    // In a process group of its own, as a terminal's foreground job: Ctrl-C reaches
    // wharf and the task it runs at once.
    let reset = stack
        .command(&["db", "reset", "--yes"])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let migrating = || !processes_mentioning("sleep 617", stack.home.path()).is_empty();
    support::eventually("the migration to run", Duration::from_secs(30), migrating);
    let group = nix::unistd::Pid::from_raw(reset.id().cast_signed());
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = reset.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{said}");
    assert!(
        said.contains("interrupted: what was half done is undone"),
        "{said}"
    );
    assert_eq!(
        db(&stack, &["shell", "--", "-At"], "SELECT count(*) FROM kept").trim(),
        "1"
    );
    support::eventually("the task to end", Duration::from_secs(10), || !migrating());
}

#[test]
fn an_interrupted_dump_or_load_leaves_nothing_behind() {
    if !support::have_servers() {
        return;
    }
    let stack = postgres_project("pgstop", "", |_| String::new());
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    db(
        &stack,
        &["shell"],
        "CREATE TABLE items AS SELECT g AS id, repeat(md5(g::text), 3) AS name FROM generate_series(1, 600000) g;",
    );
    let original = db(
        &stack,
        &["shell", "--", "-At"],
        "SELECT count(*) FROM items",
    );
    let dir = stack.dir.path();
    let partial_exists = || {
        std::fs::read_dir(dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".partial-")
        })
    };

    // A reader that stops early (`| head`) ends the dump quietly.
    let mut piped = stack
        .command(&["db", "dump"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(piped.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(piped.stdout.take());
    let output = piped.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    // A dump to a file, once it writes there.
    let started_dump = || {
        let dump = stack
            .command(&["db", "dump", "-o", "big.sql.gz"])
            .spawn()
            .unwrap();
        support::eventually(
            "the dump to start",
            std::time::Duration::from_secs(20),
            partial_exists,
        );
        dump
    };
    // The dump's programs still running.
    let dump_programs = || {
        processes_mentioning("pg_dump", stack.home.path())
            .into_iter()
            .chain(processes_mentioning("gzip -c", stack.home.path()))
            .filter(|p| !p.contains("cargo"))
            .collect::<Vec<_>>()
    };
    // SIGTERM to wharf alone, mid-dump: its programs end with it, nothing is left.
    let mut dump = started_dump();
    // Seen running first, so the look for leftovers below can see them.
    // A dump that already failed is explained by the server's log and the daemon's.
    assert!(
        !processes_mentioning("pg_dump", stack.home.path()).is_empty(),
        "the dump's pg_dump is found by its home; the server said:\n{}\nwharfd said:\n{}",
        stack.ok(&["logs", "--notes", "db"]),
        stack.ok(&["daemon", "logs"]),
    );
    support::signal(dump.id(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = dump.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(!partial_exists() && !dir.join("big.sql.gz").exists());
    let socket_dir = stack.home.path().join("data/projects/pgstop/sockets/db");
    let left = dump_programs();
    assert!(
        left.is_empty(),
        "left running: {left:?} ({})",
        socket_dir.display()
    );

    // SIGKILL, which wharf cannot see: its programs are killed with it, and the next
    // dump to that name removes the partial file left.
    let mut dump = started_dump();
    support::signal(dump.id(), nix::sys::signal::Signal::SIGKILL).unwrap();
    dump.wait().unwrap();
    support::eventually(
        "its programs to end",
        std::time::Duration::from_secs(5),
        || dump_programs().is_empty(),
    );
    assert!(partial_exists());
    db(&stack, &["dump", "-o", "big.sql.gz"], "");
    assert!(!partial_exists() && dir.join("big.sql.gz").exists());
    std::fs::remove_file(dir.join("big.sql.gz")).unwrap();

    // Mid-load over the database: the half-loaded copy beside it goes, the database stays.
    let sql = db(&stack, &["dump"], "");
    std::fs::write(dir.join("big.sql"), &sql).unwrap();
    let mut load = stack
        .command(&["db", "load", "shopdb", "big.sql", "--yes"])
        .spawn()
        .unwrap();
    let beside = || {
        db(
            &stack,
            &["shell", "--", "-At"],
            "SELECT datname FROM pg_database",
        )
        .contains("wharf_incoming_")
    };
    support::eventually(
        "the load to start",
        std::time::Duration::from_secs(20),
        beside,
    );
    support::signal(load.id(), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(load.wait().unwrap().code(), Some(130));
    assert!(!beside(), "the half-loaded database was dropped");
    assert_eq!(
        db(
            &stack,
            &["shell", "--", "-At"],
            "SELECT count(*) FROM items"
        ),
        original
    );
}
