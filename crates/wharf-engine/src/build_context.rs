//! A build's context as the engine takes it: the context directory as a tar stream,
//! less what `.dockerignore` leaves out, with the Dockerfile always in it (written in
//! under a name of its own when it is inline or lies outside the context), as the
//! Docker CLI sends it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::dockerignore::DockerIgnore;

/// Where a build's Dockerfile comes from.
pub enum Dockerfile {
    /// A file: relative to the context, or absolute.
    File(PathBuf),
    /// `dockerfile_inline`.
    Inline(String),
}

pub struct BuildContext {
    dir: PathBuf,
    ignore: DockerIgnore,
    /// The Dockerfile's path inside the tar.
    dockerfile_name: String,
    /// A Dockerfile the walk does not send (inline, outside the context, or left out
    /// by `.dockerignore`), added under `dockerfile_name`.
    added: Option<Vec<u8>>,
}

/// The name a Dockerfile from outside the context gets inside it.
const ADDED_DOCKERFILE: &str = ".wharf.Dockerfile";

impl BuildContext {
    pub fn new(dir: &Path, dockerfile: Dockerfile) -> io::Result<Self> {
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the build context {} is not a directory", dir.display()),
            ));
        }
        let ignore = match fs::read_to_string(dir.join(".dockerignore")) {
            Ok(text) => DockerIgnore::parse(&text),
            Err(err) if err.kind() == io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(err) => return Err(err),
        };
        let (dockerfile_name, added) = match dockerfile {
            Dockerfile::Inline(text) => (ADDED_DOCKERFILE.to_owned(), Some(text.into_bytes())),
            Dockerfile::File(path) => {
                let path = dir.join(path);
                // Inside the context as it resolves: `../Dockerfile` and links out are not.
                let inside = fs::canonicalize(&path)
                    .ok()
                    .zip(fs::canonicalize(dir).ok())
                    .and_then(|(file, dir)| {
                        file.strip_prefix(dir)
                            .ok()
                            .and_then(Path::to_str)
                            .map(str::to_owned)
                    });
                match inside {
                    // Sent whatever `.dockerignore` says, as the CLI sends it: read now
                    // when the patterns leave it out.
                    Some(relative) if path.is_file() && ignore.excludes(&relative) => {
                        let text = fs::read(&path).map_err(|err| named(&err, &path))?;
                        (relative, Some(text))
                    }
                    Some(relative) if path.is_file() => (relative, None),
                    _ => {
                        let text = fs::read(&path).map_err(|err| {
                            io::Error::new(
                                err.kind(),
                                format!("reading the Dockerfile {}: {err}", path.display()),
                            )
                        })?;
                        (ADDED_DOCKERFILE.to_owned(), Some(text))
                    }
                }
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            ignore,
            dockerfile_name,
            added,
        })
    }

    /// The Dockerfile's path inside the context, for the engine.
    pub fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// Writes the context as a tar stream to `out`.
    pub fn write_tar(&self, out: impl Write) -> io::Result<()> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        self.add_dir(&mut tar, Path::new(""))?;
        if let Some(text) = &self.added {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, &self.dockerfile_name, text.as_slice())?;
        }
        tar.into_inner()?.flush()
    }

    fn add_dir<W: Write>(&self, tar: &mut tar::Builder<W>, relative: &Path) -> io::Result<()> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(self.dir.join(relative))
            .map_err(|err| named(&err, &self.dir.join(relative)))?
            .collect::<io::Result<_>>()?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let path = relative.join(entry.file_name());
            let Some(name) = path.to_str() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not valid UTF-8", path.display()),
                ));
            };
            let kind = entry.file_type()?;
            // `.dockerignore` goes whatever the patterns say, as the CLI sends it.
            if name != ".dockerignore" && self.ignore.excludes(name) {
                if kind.is_dir() && self.ignore.has_exceptions() {
                    self.add_dir(tar, &path)?;
                }
                continue;
            }
            let full = self.dir.join(&path);
            let metadata = fs::symlink_metadata(&full).map_err(|err| named(&err, &full))?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&metadata, tar::HeaderMode::Complete);
            // Owned by root in the image, as the CLI sends it.
            header.set_uid(0);
            header.set_gid(0);
            header.set_username("")?;
            header.set_groupname("")?;
            if kind.is_dir() {
                tar.append_data(&mut header, &path, io::empty())?;
                self.add_dir(tar, &path)?;
            } else if kind.is_symlink() {
                let target = fs::read_link(&full)?;
                tar.append_link(&mut header, &path, target)?;
            } else if kind.is_file() {
                let file = fs::File::open(&full).map_err(|err| named(&err, &full))?;
                tar.append_data(&mut header, &path, file)?;
            }
            // Sockets, fifos and devices are not sent, as the CLI skips them.
        }
        Ok(())
    }
}

fn named(err: &io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(context: &BuildContext) -> Vec<String> {
        let mut tar = Vec::new();
        context.write_tar(&mut tar).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let entry = e.unwrap();
                assert_eq!(entry.header().uid().unwrap(), 0);
                entry.path().unwrap().display().to_string()
            })
            .collect()
    }

    #[test]
    fn the_context_leaves_out_what_dockerignore_says_and_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(root.join("node_modules/pkg/index.js"), "x").unwrap();
        fs::write(root.join("src/app.py"), "print(1)").unwrap();
        fs::write(root.join("debug.log"), "").unwrap();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "node_modules\n*.log\nDockerfile\n.dockerignore\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("src/app.py", root.join("app")).unwrap();
        let context = BuildContext::new(root, Dockerfile::File("Dockerfile".into())).unwrap();
        assert_eq!(context.dockerfile_name(), "Dockerfile");
        assert_eq!(
            names(&context),
            [".dockerignore", "app", "src", "src/app.py", "Dockerfile"]
        );
    }

    #[test]
    fn an_inline_or_outside_dockerfile_is_added_under_a_name_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let context_dir = dir.path().join("ctx");
        fs::create_dir(&context_dir).unwrap();
        fs::write(dir.path().join("Dockerfile.dev"), "FROM scratch\n").unwrap();
        let outside =
            BuildContext::new(&context_dir, Dockerfile::File("../Dockerfile.dev".into())).unwrap();
        assert_eq!(outside.dockerfile_name(), ADDED_DOCKERFILE);
        assert_eq!(names(&outside), [ADDED_DOCKERFILE]);
        let inline =
            BuildContext::new(&context_dir, Dockerfile::Inline("FROM scratch\n".into())).unwrap();
        assert_eq!(names(&inline), [ADDED_DOCKERFILE]);
        let missing = BuildContext::new(&context_dir, Dockerfile::File("nope".into()));
        assert!(
            missing
                .err()
                .is_some_and(|e| e.to_string().contains("reading the Dockerfile"))
        );
    }

    #[test]
    fn an_exception_reaches_into_an_excluded_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("vendor/keep")).unwrap();
        fs::write(root.join("vendor/drop.txt"), "").unwrap();
        fs::write(root.join("vendor/keep/yes.txt"), "").unwrap();
        fs::write(root.join(".dockerignore"), "vendor\n!vendor/keep\n").unwrap();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        let context = BuildContext::new(root, Dockerfile::File("Dockerfile".into())).unwrap();
        assert_eq!(
            names(&context),
            [
                ".dockerignore",
                "Dockerfile",
                "vendor/keep",
                "vendor/keep/yes.txt"
            ]
        );
    }
}
