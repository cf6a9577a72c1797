//! Dumps on disk and in pipes: plain SQL, gzip or zstd (zstd on every core), chosen
//! by the file's extension when writing and by its first bytes when reading. A dump
//! is written to a private temporary file beside its target and renamed only when
//! every program in the pipe succeeded, so a failed dump leaves nothing under the
//! target's name.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::DbError;
use crate::server::last_words;

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

fn spawn(command: &mut Command) -> Result<Child, DbError> {
    command.spawn().map_err(|source| DbError::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// What a finished program of a pipe said, if it failed.
fn failure(child: Child, what: &str) -> Result<(), DbError> {
    let output = child.wait_with_output().map_err(|source| DbError::Spawn {
        program: what.to_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(DbError::Failed {
        what: what.to_owned(),
        message: match last_words(&String::from_utf8_lossy(&output.stderr)) {
            words if words.is_empty() => output.status.to_string(),
            words => words,
        },
    })
}

/// Runs `dump` (SQL on its standard output) into `target` in `format`, or onto this
/// process's standard output when `target` is `None`.
pub fn write_dump(
    mut dump: Command,
    format: DumpFormat,
    target: Option<&Path>,
) -> Result<(), DbError> {
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
    let sink = |file: &Option<File>| -> Result<Stdio, DbError> {
        match file {
            Some(file) => Ok(file.try_clone().map_err(DbError::io("dump file"))?.into()),
            None => Ok(Stdio::inherit()),
        }
    };
    let outcome = (|| {
        dump.stdin(Stdio::null()).stderr(Stdio::piped());
        let finished = match format.compressor() {
            None => {
                let child = spawn(dump.stdout(sink(&file)?))?;
                failure(child, "the dump")
            }
            Some(mut compressor) => {
                let mut child = spawn(dump.stdout(Stdio::piped()))?;
                let sql = child.stdout.take().expect("piped");
                let squeezed = spawn(
                    compressor
                        .stdin(sql)
                        .stdout(sink(&file)?)
                        .stderr(Stdio::piped()),
                );
                let dumped = failure(child, "the dump");
                dumped.and(failure(squeezed?, "compressing the dump"))
            }
        };
        finished?;
        if let Some(file) = &file {
            file.sync_all().map_err(DbError::io("dump file"))?;
        }
        Ok(())
    })();
    match (partial, target) {
        (Some(partial), Some(target)) if outcome.is_ok() => {
            std::fs::rename(&partial, target).map_err(DbError::io(target))
        }
        (Some(partial), _) => {
            let _ = std::fs::remove_file(partial);
            outcome
        }
        _ => outcome,
    }
}

/// `.<name>.partial-<pid>` beside `target`: the same filesystem, so the rename is atomic.
fn partial_name(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Feeds the dump at `source` (`None`: this process's standard input), in whichever
/// format its first bytes say, to `load`'s standard input.
pub fn read_dump(source: Option<&Path>, mut load: Command) -> Result<(), DbError> {
    let mut input: Box<dyn Read> = match source {
        Some(path) => Box::new(File::open(path).map_err(DbError::io(path))?),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut head = Vec::with_capacity(4);
    (&mut input)
        .take(4)
        .read_to_end(&mut head)
        .map_err(DbError::io(source.unwrap_or(Path::new("standard input"))))?;
    load.stdout(Stdio::null()).stderr(Stdio::piped());
    let (mut first, loader) = match DumpFormat::sniff(&head).decompressor() {
        None => {
            let loader = spawn(load.stdin(Stdio::piped()))?;
            (None, loader)
        }
        Some(mut decompressor) => {
            let mut unpack = spawn(
                decompressor
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )?;
            let sql = unpack.stdout.take().expect("piped");
            let loader = spawn(load.stdin(sql))?;
            (Some(unpack), loader)
        }
    };
    let mut loader = loader;
    let pipe = match &mut first {
        Some(unpack) => unpack.stdin.take(),
        None => loader.stdin.take(),
    }
    .expect("piped");
    // A program that stops reading (an error in the SQL) ends the copy; its own error
    // says why, so the broken pipe is not the news.
    let copied = copy_into(pipe, &head, &mut input);
    let unpacked = first.map_or(Ok(()), |unpack| failure(unpack, "decompressing the dump"));
    failure(loader, "loading the dump")?;
    unpacked?;
    copied.map_err(DbError::io(source.unwrap_or(Path::new("standard input"))))
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
