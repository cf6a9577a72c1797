//! Dumps on disk and in pipes: plain SQL, gzip or zstd (zstd on every core), chosen
//! by the file's extension when writing and by its first bytes when reading, which
//! also take `pg_dump`'s own archive (`-Fc`), read as SQL through `pg_restore`. A dump
//! is written to a private temporary file beside its target and renamed only when
//! every program in the pipe succeeded, so a failed dump leaves nothing under the
//! target's name.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wharf_runtime::DatabaseEngine;

use crate::dump_lines::LineGuard;
use crate::error::DbError;
use crate::pipeline::Pipeline;
use crate::server::Loader;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    Sql,
    Gzip,
    Zstd,
    /// `pg_dump -Fc`: read only, as the SQL `pg_restore` makes of it.
    PgArchive,
}

impl DumpFormat {
    /// The format a file name asks for: `.sql`, `.sql.gz` or `.sql.zst`.
    pub fn of_path(path: &Path) -> Result<Self, DbError> {
        if path.is_dir() {
            let dir = path.display().to_string();
            return Err(DbError::Dump(format!(
                "{dir} is a directory: name the dump file in it (`{}/NAME.sql.zst`)",
                dir.trim_end_matches('/')
            )));
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".sql.zst") {
            Ok(Self::Zstd)
        } else if name.ends_with(".sql.gz") {
            Ok(Self::Gzip)
        } else if name.ends_with(".sql") {
            Ok(Self::Sql)
        } else {
            Err(DbError::Dump(format!(
                "{}: say the dump's format by its extension: .sql, .sql.gz or .sql.zst",
                path.display()
            )))
        }
    }

    /// The format whose magic number `head` starts with; plain SQL has none.
    fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else if head.starts_with(b"PGDMP") {
            Self::PgArchive
        } else {
            Self::Sql
        }
    }

    fn compressor(self) -> Option<Command> {
        let mut command = match self {
            Self::Sql | Self::PgArchive => return None,
            Self::Gzip => Command::new("gzip"),
            Self::Zstd => {
                let mut zstd = Command::new("zstd");
                zstd.args(["-q", "-T0"]);
                zstd
            }
        };
        command.arg("-c");
        crate::server::dies_with_this_process(&mut command);
        Some(command)
    }

    /// What turning this format into SQL is called in messages.
    fn unpacking(self) -> &'static str {
        match self {
            Self::PgArchive => "reading the archive with pg_restore",
            _ => "decompressing the dump",
        }
    }

    fn decompressor(self) -> Option<Command> {
        if self == Self::PgArchive {
            // Without owners and grants, as wharf's own dumps: roles of the server it
            // came from need not exist here.
            let mut pg_restore = Command::new("pg_restore");
            pg_restore.args(["--no-owner", "--no-privileges", "-f", "-"]);
            crate::server::dies_with_this_process(&mut pg_restore);
            return Some(pg_restore);
        }
        let mut command = self.compressor()?;
        command.arg("-d");
        Some(command)
    }
}

/// Runs `dump` (SQL on its standard output) into `target` in `format`, or onto this
/// process's standard output when `target` is `None`.
pub fn write_dump(
    mut dump: Command,
    format: DumpFormat,
    target: Option<&Path>,
) -> Result<(), DbError> {
    if let Some(dir) = target
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(DbError::Dump(format!(
            "{}: no such directory",
            dir.display()
        )));
    }
    if let Some(target) = target {
        remove_abandoned_partials(target);
    }
    let partial = target.map(partial_name);
    let file = match &partial {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(DbError::io(path))?,
        ),
        None => None,
    };
    let outcome = run_dump(&mut dump, format, file.as_ref()).and_then(|()| match &file {
        Some(file) => file.sync_all().map_err(DbError::io("dump file")),
        None => Ok(()),
    });
    match (partial, target) {
        (Some(partial), Some(target)) if outcome.is_ok() => {
            std::fs::rename(&partial, target).map_err(DbError::io(target))
        }
        (Some(partial), _) => {
            let _ = std::fs::remove_file(partial);
            outcome
        }
        // A reader of standard output that stops (`| head`) ends the dump, quietly.
        (None, _) => match outcome {
            Err(err) if broken_pipe(&err) => Ok(()),
            other => other,
        },
    }
}

/// A program that failed only because the one it wrote to stopped reading.
fn broken_pipe(err: &DbError) -> bool {
    matches!(err, DbError::Failed { message, .. }
        if ["Broken pipe", "errno 32", "SIGPIPE"].iter().any(|words| message.contains(words)))
}

/// The dump, through the compressor when there is one, into `file` or standard output.
fn run_dump(dump: &mut Command, format: DumpFormat, file: Option<&File>) -> Result<(), DbError> {
    let sink = || -> Result<Stdio, DbError> {
        match file {
            Some(file) => Ok(file.try_clone().map_err(DbError::io("dump file"))?.into()),
            None => Ok(Stdio::inherit()),
        }
    };
    let mut pipeline = Pipeline::default();
    dump.stdin(Stdio::null());
    match format.compressor() {
        None => {
            pipeline.spawn(dump.stdout(sink()?), "the dump")?;
        }
        Some(mut compressor) => {
            let sql = pipeline
                .spawn(dump.stdout(Stdio::piped()), "the dump")?
                .stdout
                .take()
                .expect("piped");
            pipeline.spawn(
                compressor.stdin(sql).stdout(sink()?),
                "compressing the dump",
            )?;
        }
    }
    pipeline.wait()
}

/// `.<name>.partial-<pid>` beside `target`: the same filesystem, so the rename is atomic.
fn partial_name(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// The partial files of dumps to `target` whose `wharf db` was killed (its process is
/// gone): removed before the next dump there.
fn remove_abandoned_partials(target: &Path) {
    let prefix = format!(
        ".{}.partial-",
        target.file_name().unwrap_or_default().to_string_lossy()
    );
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let gone = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(crate::copy_notes::process_gone);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Feeds the dump at `source` (`None`: this process's standard input), in whichever
/// format its first bytes say, to `load`'s standard input, for a server of `engine`.
/// Input that is no dump (empty, or binary of no format above), or the other
/// engine's dump, is refused before anything runs; a dump whose tool ends every dump
/// with a line of its own (`pg_dump`, `mariadb-dump`) and that lacks it is cut short,
/// and an error once loaded, so the caller throws away what it loaded.
pub fn read_dump(
    source: Option<&Path>,
    load: impl Into<Loader>,
    engine: DatabaseEngine,
) -> Result<(), DbError> {
    feed_dump(source, load.into(), engine).map_err(hinted)
}

/// A load stopped by what a dump from elsewhere asks of this server's users, with
/// how to load it anyway: objects given to roles it lacks (a plain `pg_dump` of
/// another server), or views whose definer may not use the new database (MariaDB).
fn hinted(err: DbError) -> DbError {
    let DbError::Failed { what, message } = err else {
        return err;
    };
    let hint = if message.contains("role \"") && message.contains("does not exist") {
        "the dump gives its objects to roles this server lacks: dump with `pg_dump --no-owner --no-privileges` (as `wharf db dump` does; wharf reads `pg_dump -Fc` archives that way too), or create the roles first"
    } else if message.contains("definer/invoker of view lack rights") {
        "the dump's views run as the user who made them (their DEFINER), who may not use a new database: load it into the database it came from, or grant that user this one first (GRANT ALL ON `NAME`.* TO 'user'@'%', in `wharf db shell`)"
    } else {
        return DbError::Failed { what, message };
    };
    DbError::Failed {
        what,
        message: format!("{message}\nhint: {hint}"),
    }
}

fn feed_dump(source: Option<&Path>, load: Loader, engine: DatabaseEngine) -> Result<(), DbError> {
    let Loader {
        command: mut load,
        restriction,
    } = load;
    let name = source.map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
    let mut input: Box<dyn Read + Send> = match source {
        Some(path) => Box::new(File::open(path).map_err(DbError::io(path))?),
        None => Box::new(std::io::stdin()),
    };
    let mut head = Vec::with_capacity(HEAD);
    (&mut input)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(DbError::io(&name))?;
    let format = DumpFormat::sniff(&head);
    check_head(&head, format, engine).map_err(|why| DbError::Dump(format!("{name}: {why}")))?;
    let mut pipeline = Pipeline::default();
    load.stdout(Stdio::null());
    let mut start_loader = |pipeline: &mut Pipeline| -> Result<_, DbError> {
        Ok(pipeline
            .spawn(load.stdin(Stdio::piped()), "loading the dump")?
            .stdin
            .take()
            .expect("piped"))
    };
    // The copies run beside the wait, so an interruption is seen while they block; a
    // program that stops reading (an error in the SQL) ends them, and its own error
    // says why, so the broken pipe is not the news.
    let Some(mut decompressor) = format.decompressor() else {
        let loader_input = start_loader(&mut pipeline)?;
        let writer = writer_of(&head);
        let guard = LineGuard::new(engine).restricting(restriction);
        let copy =
            std::thread::spawn(move || copy_into(loader_input, &head, &mut input, Some(guard)));
        pipeline.wait()?;
        let tail = joined(copy, &name)?;
        return check_tail(writer, tail.as_deref())
            .map_err(|why| DbError::Dump(format!("{name}: {why}")));
    };
    // Started before the loader, so a cut-off file is the news when both fail: the
    // loader then only found the SQL ending half way.
    let unpack = pipeline.spawn(
        decompressor.stdin(Stdio::piped()).stdout(Stdio::piped()),
        format.unpacking(),
    )?;
    let (compressed, mut sql) = (
        unpack.stdin.take().expect("piped"),
        unpack.stdout.take().expect("piped"),
    );
    let loader_input = start_loader(&mut pipeline)?;
    let feed = std::thread::spawn(move || copy_into(compressed, &head, &mut input, None));
    // What comes out of the decompressor is looked at as a plain dump would be.
    let forward = std::thread::spawn(move || -> Result<_, String> {
        let mut unpacked = Vec::with_capacity(HEAD);
        (&mut sql)
            .take(HEAD as u64)
            .read_to_end(&mut unpacked)
            .map_err(|err| err.to_string())?;
        check_head(&unpacked, DumpFormat::Sql, engine)
            .map_err(|why| format!("once decompressed, {why}"))?;
        let writer = writer_of(&unpacked);
        let guard = LineGuard::new(engine).restricting(restriction);
        let tail = copy_into(loader_input, &unpacked, &mut sql, Some(guard))
            .map_err(|err| err.to_string())?;
        Ok((writer, tail))
    });
    let waited = pipeline.wait();
    let forwarded = forward.join();
    // A decompressor's own failure (a cut-off file) is the news, unless it only died
    // because the forwarding stopped at what it found.
    if let Err(err) = &waited
        && !broken_pipe(err)
    {
        return waited;
    }
    if let Ok(Err(why)) = &forwarded {
        return Err(DbError::Dump(format!("{name}: {why}")));
    }
    waited?;
    joined(feed, &name)?;
    if let Ok(Ok((writer, tail))) = forwarded {
        check_tail(writer, tail.as_deref())
            .map_err(|why| DbError::Dump(format!("{name}: {why}")))?;
    }
    Ok(())
}

/// The outcome of a copying thread.
fn joined<T>(copy: std::thread::JoinHandle<std::io::Result<T>>, name: &str) -> Result<T, DbError> {
    match copy.join() {
        Ok(copied) => copied.map_err(DbError::io(name)),
        Err(_) => Err(DbError::Dump(format!("{name}: the copy failed"))),
    }
}

/// The engine whose dump tool wrote a plain dump, as its first lines say.
fn writer_of(head: &[u8]) -> Option<DatabaseEngine> {
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]);
    if text.contains("-- PostgreSQL database dump") {
        Some(DatabaseEngine::Postgres)
    } else if text.contains("-- MariaDB dump") || text.contains("-- MySQL dump") {
        Some(DatabaseEngine::Mariadb)
    } else {
        None
    }
}

/// The line each engine's dump tool ends every dump with.
fn last_line(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "-- PostgreSQL database dump complete",
        DatabaseEngine::Mariadb => "-- Dump completed",
    }
}

fn server_kind(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "PostgreSQL",
        DatabaseEngine::Mariadb => "MariaDB",
    }
}

fn tool(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "pg_dump",
        DatabaseEngine::Mariadb => "mariadb-dump",
    }
}

/// A dump its tool wrote ends with the tool's last line; `tail` is `None` when the
/// loader stopped reading first (its own error says why).
fn check_tail(writer: Option<DatabaseEngine>, tail: Option<&[u8]>) -> Result<(), String> {
    let (Some(writer), Some(tail)) = (writer, tail) else {
        return Ok(());
    };
    let last = last_line(writer);
    if String::from_utf8_lossy(tail).contains(last) {
        return Ok(());
    }
    Err(format!(
        "it is cut short: {} ends every dump with \"{last}\", and this one stops before it; what it loaded was thrown away",
        tool(writer)
    ))
}

/// How much of a dump is looked at before it is loaded.
const HEAD: usize = 4096;

/// Refuses what cannot be a dump for a server of `engine`: nothing at all, binary
/// bytes (a NUL) that are neither of the compressed formats, or the other engine's.
fn check_head(head: &[u8], format: DumpFormat, engine: DatabaseEngine) -> Result<(), String> {
    if head.is_empty() {
        return Err("it is empty, so it is no dump".to_owned());
    }
    if format == DumpFormat::Sql && head.contains(&0) {
        return Err(
            "it is neither SQL text nor gzip, zstd or pg_dump's archive, so it is no dump"
                .to_owned(),
        );
    }
    if format == DumpFormat::PgArchive && engine != DatabaseEngine::Postgres {
        return Err(
            "it is pg_dump's archive, and this server is MariaDB: load it into a PostgreSQL server"
                .to_owned(),
        );
    }
    match writer_of(head) {
        Some(writer) if format == DumpFormat::Sql && writer != engine => Err(format!(
            "it is {}'s dump, and this server is {}: load it into a server of that kind",
            tool(writer),
            server_kind(engine)
        )),
        _ => Ok(()),
    }
}

/// How much of a dump's end is kept to find its tool's last line.
const TAIL: usize = 1024;

/// Copies `head` then `rest` into `pipe`; the last bytes copied, or `None` when the
/// reader went away first (a loader that stopped at an error). `guard` looks at each
/// line of SQL before the loader gets it, and stops the copy at one that leaves the
/// database.
fn copy_into(
    mut pipe: impl Write,
    head: &[u8],
    rest: &mut dyn Read,
    mut guard: Option<LineGuard>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut tail = head[head.len().saturating_sub(TAIL)..].to_vec();
    let preamble = guard
        .as_ref()
        .and_then(|g| g.preamble(head))
        .map(<[u8]>::to_vec);
    let mut passes = move |bytes: &[u8], last: bool| -> std::io::Result<()> {
        let Some(guard) = guard.as_mut() else {
            return Ok(());
        };
        guard.pass(bytes).map_err(std::io::Error::other)?;
        if last {
            guard.end().map_err(std::io::Error::other)?;
        }
        Ok(())
    };
    let mut copy = || -> std::io::Result<()> {
        if let Some(line) = &preamble {
            pipe.write_all(line)?;
        }
        passes(head, false)?;
        pipe.write_all(head)?;
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = match rest.read(&mut buffer) {
                Ok(0) => return passes(&[], true),
                Ok(read) => read,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            passes(&buffer[..read], false)?;
            pipe.write_all(&buffer[..read])?;
            tail.extend_from_slice(&buffer[..read]);
            if tail.len() > 2 * TAIL {
                tail.drain(..tail.len() - TAIL);
            }
        }
    };
    match copy() {
        Ok(()) => Ok(Some(tail)),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn formats_come_from_extensions_and_first_bytes() {
        let of = |name: &str| DumpFormat::of_path(Path::new(name));
        assert_eq!(of("a.sql").unwrap(), DumpFormat::Sql);
        assert_eq!(of("dir/a.sql.gz").unwrap(), DumpFormat::Gzip);
        assert_eq!(of("a.sql.zst").unwrap(), DumpFormat::Zstd);
        assert!(of("a.dump").unwrap_err().to_string().contains(".sql.zst"));
        assert_eq!(DumpFormat::sniff(&[0x1f, 0x8b, 8, 0]), DumpFormat::Gzip);
        assert_eq!(
            DumpFormat::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            DumpFormat::Zstd
        );
        assert_eq!(DumpFormat::sniff(b"--"), DumpFormat::Sql);
    }

    #[test]
    fn every_format_round_trips_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["d.sql", "d.sql.gz", "d.sql.zst"] {
            let target = dir.path().join(name);
            let format = DumpFormat::of_path(&target).unwrap();
            write_dump(sh("printf 'select 1;\\n'"), format, Some(&target)).unwrap();
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
            let copy = dir.path().join(format!("{name}.out"));
            let mut load = Command::new("sh");
            load.arg("-c").arg(format!("cat > {}", copy.display()));
            read_dump(Some(&target), load, DatabaseEngine::Postgres).unwrap();
            assert_eq!(
                std::fs::read_to_string(&copy).unwrap(),
                "select 1;\n",
                "{name}"
            );
        }
    }

    #[test]
    fn a_failed_dump_leaves_nothing_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("d.sql.zst");
        std::fs::write(&target, "the previous dump").unwrap();
        let err = write_dump(
            sh("printf 'half'; echo 'pg_dump: error: connection lost' >&2; exit 1"),
            DumpFormat::Zstd,
            Some(&target),
        )
        .unwrap_err();
        assert!(err.to_string().contains("connection lost"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "the previous dump"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial file left: {left:?}");
    }

    /// A dump whose command was killed left its partial file: the next dump to the
    /// same name removes it; one still being written (its process alive) stays.
    #[test]
    fn the_next_dump_removes_the_partial_file_of_a_killed_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("d.sql");
        let mut ended = Command::new("true").spawn().unwrap();
        let gone = ended.id();
        ended.wait().unwrap();
        let abandoned = dir.path().join(format!(".d.sql.partial-{gone}"));
        let running = dir.path().join(".d.sql.partial-1");
        for partial in [&abandoned, &running] {
            std::fs::write(partial, "half").unwrap();
        }
        write_dump(sh("echo whole"), DumpFormat::Sql, Some(&target)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "whole\n");
        assert!(!abandoned.exists() && running.exists());
    }

    #[test]
    fn what_is_no_dump_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let pg_dump = &b"--\n-- PostgreSQL database dump\n--\n\\restrict abc\n"[..];
        for (name, bytes, engine, said) in [
            ("empty.sql", &b""[..], DatabaseEngine::Postgres, "no dump"),
            (
                "bin.dump",
                &b"\x00\x01binary"[..],
                DatabaseEngine::Postgres,
                "no dump",
            ),
            // The other engine's dump.
            ("pg.sql", pg_dump, DatabaseEngine::Mariadb, "pg_dump's dump"),
            (
                "pg.dump",
                &b"PGDMP\x01\x0f\x00"[..],
                DatabaseEngine::Mariadb,
                "pg_dump's archive",
            ),
        ] {
            let source = dir.path().join(name);
            std::fs::write(&source, bytes).unwrap();
            let err = read_dump(
                Some(&source),
                sh(&format!("touch {}", marker.display())),
                engine,
            )
            .unwrap_err();
            assert!(err.to_string().contains(said), "{name}: {err}");
            assert!(!marker.exists(), "{name}: the loader ran");
        }
    }

    #[test]
    fn what_decompresses_to_no_dump_is_refused_and_the_loader_gets_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("empty.sql.gz", &b""[..]),
            ("bin.sql.gz", &b"\x00\x01binary"[..]),
        ] {
            let source = dir.path().join(name);
            let mut gzip = Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -c > {}", source.display()))
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            gzip.stdin.take().unwrap().write_all(bytes).unwrap();
            assert!(gzip.wait().unwrap().success());
            let received = dir.path().join(format!("{name}.received"));
            let err = read_dump(
                Some(&source),
                sh(&format!("cat > {}", received.display())),
                DatabaseEngine::Postgres,
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("once decompressed"),
                "{name}: {err}"
            );
            assert_eq!(std::fs::read(&received).unwrap(), b"", "{name}");
        }
    }

    #[test]
    fn a_load_that_stops_reading_says_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("big.sql");
        std::fs::write(&source, "x".repeat(1 << 20)).unwrap();
        let err = read_dump(
            Some(&source),
            sh("head -c 10 >/dev/null; echo 'ERROR: syntax error' >&2; exit 3"),
            DatabaseEngine::Postgres,
        )
        .unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
    }

    #[test]
    fn a_tools_dump_without_its_last_line_is_cut_short_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let whole = "--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (id int);\n".to_owned()
            + &"INSERT INTO t VALUES (1);\n".repeat(5000)
            + "\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n";
        let cut = &whole[..whole.len() / 2];
        for name in ["d.sql", "d.sql.gz", "d.sql.zst"] {
            for (text, complete) in [(whole.as_str(), true), (cut, false)] {
                let target = dir.path().join(name);
                let _ = std::fs::remove_file(&target);
                let format = DumpFormat::of_path(&target).unwrap();
                let mut print = Command::new("cat");
                let source = dir.path().join("plain");
                std::fs::write(&source, text).unwrap();
                print.arg(&source);
                write_dump(print, format, Some(&target)).unwrap();
                let loaded = read_dump(
                    Some(&target),
                    sh("cat >/dev/null"),
                    DatabaseEngine::Postgres,
                );
                match (complete, loaded) {
                    (true, Ok(())) => {}
                    (false, Err(err)) => assert!(
                        err.to_string().contains("cut short")
                            && err.to_string().contains("pg_dump"),
                        "{name}: {err}"
                    ),
                    (complete, other) => panic!("{name}, complete {complete}: {other:?}"),
                }
            }
        }
        // What no tool wrote (a seed file) has no last line to look for.
        let seed = dir.path().join("seed.sql");
        std::fs::write(&seed, "INSERT INTO t VALUES (1);\n").unwrap();
        read_dump(Some(&seed), sh("cat >/dev/null"), DatabaseEngine::Postgres).unwrap();
    }

    /// A compressed dump cut off is named by its decompressor: cut so short that
    /// nothing comes out, or cut half way, where the loader fails too (at the half
    /// statement it got) and the file being cut is still the news.
    #[test]
    fn a_cut_off_compressed_file_is_named_by_its_decompressor() {
        let dir = tempfile::tempdir().unwrap();
        let short = |_: usize| 12_usize;
        let half = |len: usize| len / 2;
        for (kept, loader) in [
            (&short as &dyn Fn(usize) -> usize, "cat >/dev/null"),
            (
                &half,
                "cat >/dev/null; echo 'ERROR: missing data for column' >&2; exit 3",
            ),
        ] {
            for name in ["d.sql.gz", "d.sql.zst"] {
                let target = dir.path().join(name);
                let format = DumpFormat::of_path(&target).unwrap();
                write_dump(sh("seq 1 200000"), format, Some(&target)).unwrap();
                let bytes = std::fs::read(&target).unwrap();
                std::fs::write(&target, &bytes[..kept(bytes.len())]).unwrap();
                let err = read_dump(Some(&target), sh(loader), DatabaseEngine::Postgres)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("decompressing the dump") && !err.contains("empty"),
                    "{name}, {loader}: {err}"
                );
            }
        }
        assert!(
            DumpFormat::of_path(dir.path())
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
    }
}
