//! Dumps on disk and in pipes: plain SQL, gzip or zstd (zstd on every core), chosen
//! by the file's extension when writing and by its first bytes when reading. A dump
//! is written to a private temporary file beside its target and renamed only when
//! every program in the pipe succeeded, so a failed dump leaves nothing under the
//! target's name.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::DbError;
use crate::pipeline::Pipeline;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    Sql,
    Gzip,
    Zstd,
}

impl DumpFormat {
    /// The format a file name asks for: `.sql`, `.sql.gz` or `.sql.zst`.
    pub fn of_path(path: &Path) -> Result<Self, DbError> {
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
        } else {
            Self::Sql
        }
    }

    fn compressor(self) -> Option<Command> {
        let mut command = match self {
            Self::Sql => return None,
            Self::Gzip => Command::new("gzip"),
            Self::Zstd => {
                let mut zstd = Command::new("zstd");
                zstd.args(["-q", "-T0"]);
                zstd
            }
        };
        command.arg("-c");
        Some(command)
    }

    fn decompressor(self) -> Option<Command> {
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
            Err(DbError::Failed { message, .. })
                if ["Broken pipe", "errno 32", "SIGPIPE"]
                    .iter()
                    .any(|words| message.contains(words)) =>
            {
                Ok(())
            }
            other => other,
        },
    }
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

/// Feeds the dump at `source` (`None`: this process's standard input), in whichever
/// format its first bytes say, to `load`'s standard input. Input that is no dump
/// (empty, or binary that is neither gzip nor zstd) is refused before anything runs.
pub fn read_dump(source: Option<&Path>, mut load: Command) -> Result<(), DbError> {
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
    check_head(&head, format).map_err(|why| DbError::Dump(format!("{name}: {why}")))?;
    let mut pipeline = Pipeline::default();
    load.stdout(Stdio::null());
    let loader_input = pipeline
        .spawn(load.stdin(Stdio::piped()), "loading the dump")?
        .stdin
        .take()
        .expect("piped");
    // The copies run beside the wait, so an interruption is seen while they block; a
    // program that stops reading (an error in the SQL) ends them, and its own error
    // says why, so the broken pipe is not the news.
    let Some(mut decompressor) = format.decompressor() else {
        let copy = std::thread::spawn(move || copy_into(loader_input, &head, &mut input));
        pipeline.wait()?;
        return joined(copy, &name);
    };
    let unpack = pipeline.spawn(
        decompressor.stdin(Stdio::piped()).stdout(Stdio::piped()),
        "decompressing the dump",
    )?;
    let (compressed, mut sql) = (
        unpack.stdin.take().expect("piped"),
        unpack.stdout.take().expect("piped"),
    );
    let feed = std::thread::spawn(move || copy_into(compressed, &head, &mut input));
    // What comes out of the decompressor is looked at as a plain dump would be.
    let forward = std::thread::spawn(move || -> Result<(), String> {
        let mut unpacked = Vec::with_capacity(HEAD);
        (&mut sql)
            .take(HEAD as u64)
            .read_to_end(&mut unpacked)
            .map_err(|err| err.to_string())?;
        check_head(&unpacked, DumpFormat::Sql)
            .map_err(|why| format!("once decompressed, {why}"))?;
        copy_into(loader_input, &unpacked, &mut sql).map_err(|err| err.to_string())
    });
    let waited = pipeline.wait();
    if let Ok(Err(why)) = forward.join() {
        return Err(DbError::Dump(format!("{name}: {why}")));
    }
    waited?;
    joined(feed, &name)
}

/// The outcome of a copying thread.
fn joined(copy: std::thread::JoinHandle<std::io::Result<()>>, name: &str) -> Result<(), DbError> {
    match copy.join() {
        Ok(copied) => copied.map_err(DbError::io(name)),
        Err(_) => Err(DbError::Dump(format!("{name}: the copy failed"))),
    }
}

/// How much of a dump is looked at before it is loaded.
const HEAD: usize = 4096;

/// Refuses what cannot be a dump: nothing at all, or binary bytes (a NUL) that are
/// neither of the compressed formats.
fn check_head(head: &[u8], format: DumpFormat) -> Result<(), &'static str> {
    if head.is_empty() {
        return Err("it is empty, so it is no dump");
    }
    if format == DumpFormat::Sql && head.contains(&0) {
        return Err("it is neither SQL text nor gzip or zstd, so it is no dump");
    }
    Ok(())
}

fn copy_into(mut pipe: impl Write, head: &[u8], rest: &mut dyn Read) -> std::io::Result<()> {
    let result = pipe
        .write_all(head)
        .and_then(|()| std::io::copy(rest, &mut pipe).map(drop));
    match result {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
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
            read_dump(Some(&target), load).unwrap();
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

    #[test]
    fn what_is_no_dump_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        for (name, bytes) in [
            ("empty.sql", &b""[..]),
            ("bin.dump", &b"\x00\x01binary"[..]),
        ] {
            let source = dir.path().join(name);
            std::fs::write(&source, bytes).unwrap();
            let err =
                read_dump(Some(&source), sh(&format!("touch {}", marker.display()))).unwrap_err();
            assert!(err.to_string().contains("no dump"), "{name}: {err}");
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
            let err =
                read_dump(Some(&source), sh(&format!("cat > {}", received.display()))).unwrap_err();
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
        )
        .unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
    }
}
