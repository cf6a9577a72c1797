//! A project's logs: one file of JSON lines per service, rotated at a size limit, plus
//! a broadcast for followers. Kept on disk so they outlive restarts of the service
//! and of the daemon; a follower that falls behind the broadcast reads back from them.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read as _, Write};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use wharf_api::{LogLine, LogStream, create_private_dir};

/// A service's log file is rotated (to `<service>.log.1`) when it grows past this.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

pub struct LogBook {
    dir: PathBuf,
    rotate_bytes: u64,
    files: Mutex<HashMap<String, File>>,
    /// When each instance's newest line of its own output was written, as this daemon
    /// wrote or read it (wharf's notes aside): a file is read for it once, not at every
    /// start of the instance.
    newest: Mutex<HashMap<(String, u32), u64>>,
    live: broadcast::Sender<LogLine>,
    /// Set when the project goes down: followers stop, as `docker compose logs -f` does.
    closed: watch::Sender<bool>,
}

impl LogBook {
    pub fn new(dir: PathBuf) -> Self {
        Self::rotating_at(dir, ROTATE_BYTES)
    }

    /// A book whose files rotate past `rotate_bytes`.
    pub fn rotating_at(dir: PathBuf, rotate_bytes: u64) -> Self {
        Self {
            dir,
            rotate_bytes,
            files: Mutex::new(HashMap::new()),
            newest: Mutex::new(HashMap::new()),
            live: broadcast::channel(4096).0,
            closed: watch::channel(false).0,
        }
    }

    /// Ends every follower: the project went down.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once the book is closed.
    pub async fn closed(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Appends a line to its service's file and tells the followers, in one step so
    /// followers and files have the lines in the same order. A full disk must not stop
    /// a service, so write errors are dropped here.
    pub fn write(&self, line: LogLine) {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((file, recreated)) = self.file_for(&mut files, &line.service) {
            if recreated {
                let note = LogLine {
                    stream: LogStream::Wharf,
                    line: "the log file was deleted while the service ran; \
                           lines written meanwhile are lost, later ones follow here"
                        .to_owned(),
                    ..line.clone()
                };
                append(file, &note);
            }
            append(file, &line);
        }
        if line.stream != LogStream::Wharf {
            self.newest_lines()
                .insert((line.service.clone(), line.replica), line.time_ms);
        }
        let _ = self.live.send(line);
        drop(files);
    }

    /// The open file of `service`, rotated when too big and created again when it was
    /// deleted (say, with the state directory); `true` when it was.
    fn file_for<'a>(
        &self,
        files: &'a mut HashMap<String, File>,
        service: &str,
    ) -> Option<(&'a mut File, bool)> {
        let path = self.path(service);
        let open = files.get(service).and_then(|f| f.metadata().ok());
        let too_big = open.as_ref().is_some_and(|m| m.len() > self.rotate_bytes);
        // An open file whose last name is gone takes lines nobody can read.
        let deleted = open.as_ref().is_some_and(|m| m.nlink() == 0);
        if too_big || deleted {
            files.remove(service);
        }
        if too_big {
            let _ = std::fs::rename(&path, rotated(&path));
        }
        if !files.contains_key(service) {
            create_private_dir(&self.dir).ok()?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .ok()?;
            files.insert(service.to_owned(), file);
        }
        files.get_mut(service).map(|file| (file, deleted))
    }

    fn path(&self, service: &str) -> PathBuf {
        self.dir.join(format!("{service}.log"))
    }

    /// Stored lines of `services` (all when empty), oldest first, merged by time: at most
    /// the last `tail` of each instance, none older than `since_ms`. Files are read line
    /// by line and only what the tail keeps is held: `logs -n 1` of a service that wrote
    /// 20 MiB must not take 20 MiB of the daemon's memory.
    pub fn read(
        &self,
        services: &[String],
        tail: Option<usize>,
        since_ms: Option<u64>,
    ) -> Vec<LogLine> {
        read_stored(self.stored(services), tail, since_ms)
    }

    /// The stored lines `read` gives, and a receiver of every line written after
    /// them: taken at one moment, so no line falls between the two or comes in both.
    pub fn follow(
        &self,
        services: &[String],
        tail: Option<usize>,
        since_ms: Option<u64>,
    ) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = self.live.subscribe();
        let stored = self.stored(services);
        drop(files);
        (read_stored(stored, tail, since_ms), live)
    }

    /// What is stored now of `services` (all when empty): each one's files, oldest
    /// first, open and cut at their present length, so lines written later and a
    /// rotation do not change what is read.
    fn stored(&self, services: &[String]) -> Vec<Vec<std::io::Take<File>>> {
        let names: Vec<String> = if services.is_empty() {
            self.stored_services()
        } else {
            services.to_vec()
        };
        names
            .iter()
            .map(|name| {
                let path = self.path(name);
                [rotated(&path), path]
                    .iter()
                    .filter_map(|path| {
                        let file = File::open(path).ok()?;
                        let length = file.metadata().ok()?.len();
                        Some(file.take(length))
                    })
                    .collect()
            })
            .collect()
    }

    /// When the newest stored line of what `service`'s replica `replica` said was
    /// written: what it said after then is not in the book yet. wharf's own notes do
    /// not count (a successor daemon's note comes before it copies what was missed).
    pub fn last_output_ms(&self, service: &str, replica: u32) -> Option<u64> {
        let key = (service.to_owned(), replica);
        if let Some(newest) = self.newest_lines().get(&key) {
            return Some(*newest);
        }
        let path = self.path(service);
        let stored = [path.clone(), rotated(&path)].iter().find_map(|file| {
            let mut last = None;
            for_each_stored(file, |line| {
                if line.replica == replica && line.stream != LogStream::Wharf {
                    last = Some(line.time_ms);
                }
            });
            last
        })?;
        // A line written meanwhile is newer and stays.
        Some(*self.newest_lines().entry(key).or_insert(stored))
    }

    fn newest_lines(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), u64>> {
        self.newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stored_services(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".log")
                    .map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }
}

/// An instance's log, watched for a line (`Shared::watch_for_line`): its own output, not
/// wharf's notes..
pub struct LineWatch {
    logs: Option<Arc<LogBook>>,
    live: Option<broadcast::Receiver<LogLine>>,
    said: bool,
    service: String,
    replica: u32,
    text: String,
    since_ms: u64,
}

impl LineWatch {
    pub fn new(
        logs: Option<Arc<LogBook>>,
        (service, replica): (&str, u32),
        text: &str,
        since_ms: u64,
    ) -> Self {
        let mut watch = Self {
            logs,
            live: None,
            said: false,
            service: service.to_owned(),
            replica,
            text: text.to_owned(),
            since_ms,
        };
        watch.read_stored();
        watch
    }

    /// Whether the line has been said, by now; once said, it stays said.
    pub fn said(&mut self) -> bool {
        use broadcast::error::TryRecvError;
        while !self.said {
            let Some(following) = self.live.as_mut() else {
                break;
            };
            match following.try_recv() {
                Ok(line) => self.said = self.is_it(&line),
                // Lines were missed: the stored ones are read again.
                Err(TryRecvError::Lagged(_)) => self.read_stored(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.said
    }

    /// The stored lines, and a receiver of those that follow.
    fn read_stored(&mut self) {
        let Some(logs) = &self.logs else {
            return;
        };
        let (stored, live) = logs.follow(
            std::slice::from_ref(&self.service),
            None,
            Some(self.since_ms),
        );
        self.said = stored.iter().any(|line| self.is_it(line));
        self.live = Some(live);
    }

    fn is_it(&self, line: &LogLine) -> bool {
        line.service == self.service
            && line.replica == self.replica
            && line.stream != LogStream::Wharf
            && line.line.contains(&self.text)
    }
}

/// What a follower was sent, so that when it falls behind the broadcast the lines it
/// missed are read back from the files once each: per instance, the time of the newest
/// line sent and how many were sent at that time (lines of one instance are stored in
/// the order they are sent).
pub struct Delivered {
    /// The oldest time an instance that was sent nothing yet can have missed a line of.
    floor_ms: u64,
    newest: HashMap<String, HashMap<u32, (u64, usize)>>,
}

impl Delivered {
    pub fn new(floor_ms: u64) -> Self {
        Self {
            floor_ms,
            newest: HashMap::new(),
        }
    }

    pub fn note(&mut self, line: &LogLine) {
        let replicas = match self.newest.get_mut(line.service.as_str()) {
            Some(replicas) => replicas,
            None => self.newest.entry(line.service.clone()).or_default(),
        };
        let (time, count) = replicas.entry(line.replica).or_insert((line.time_ms, 0));
        if line.time_ms > *time {
            (*time, *count) = (line.time_ms, 0);
        }
        if line.time_ms == *time {
            *count += 1;
        }
    }

    /// The time from which stored lines may hold ones the follower was not sent.
    pub fn since_ms(&self) -> u64 {
        self.newest
            .values()
            .flat_map(HashMap::values)
            .map(|(time, _)| *time)
            .fold(self.floor_ms, u64::min)
    }

    /// The lines of `stored` (as `LogBook::read` gives them) the follower was not sent.
    pub fn unsent(&self, stored: Vec<LogLine>) -> Vec<LogLine> {
        let mut left = self.newest.clone();
        stored
            .into_iter()
            .filter(|line| {
                let Some((time, count)) = left
                    .get_mut(line.service.as_str())
                    .and_then(|replicas| replicas.get_mut(&line.replica))
                else {
                    return line.time_ms >= self.floor_ms;
                };
                if line.time_ms == *time && *count > 0 {
                    *count -= 1;
                    return false;
                }
                line.time_ms >= *time
            })
            .collect()
    }
}

/// Appends `line` to `file` as one JSON line; errors are dropped (see `write`).
fn append(file: &mut File, line: &LogLine) {
    if let Ok(mut text) = serde_json::to_string(line) {
        text.push('\n');
        let _ = file.write_all(text.as_bytes());
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// The lines of each service's files, merged by time: at most the last `tail` of each
/// instance, none older than `since_ms`.
fn read_stored(
    services: Vec<Vec<std::io::Take<File>>>,
    tail: Option<usize>,
    since_ms: Option<u64>,
) -> Vec<LogLine> {
    let mut lines = Vec::new();
    for files in services {
        let mut service = ServiceTail::new(tail);
        for file in files {
            for_each_line(file, |line| {
                if since_ms.is_none_or(|since| line.time_ms >= since) {
                    service.push(line);
                }
            });
        }
        lines.extend(service.into_lines());
    }
    lines.sort_by_key(|l| l.time_ms);
    lines
}

/// Calls `visit` with each line stored in `path`, oldest first.
fn for_each_stored(path: &Path, visit: impl FnMut(LogLine)) {
    if let Ok(file) = File::open(path) {
        for_each_line(file, visit);
    }
}

/// Calls `visit` with each line `stored` holds, oldest first.
fn for_each_line(stored: impl std::io::Read, mut visit: impl FnMut(LogLine)) {
    for line in BufReader::new(stored).lines().map_while(Result::ok) {
        if let Ok(parsed) = serde_json::from_str(&line) {
            visit(parsed);
        }
    }
}

/// The lines of one service as they are read: all of them, or the last `tail` of each
/// instance's own output, as Compose's `--tail` gives them (wharf's notes, a start or
/// an exit, left out).
struct ServiceTail {
    tail: Option<usize>,
    /// By replica: each kept line with its place in the files, to give them back in
    /// the order they were written.
    kept: HashMap<u32, VecDeque<(usize, LogLine)>>,
    read: usize,
}

impl ServiceTail {
    fn new(tail: Option<usize>) -> Self {
        Self {
            tail,
            kept: HashMap::new(),
            read: 0,
        }
    }

    fn push(&mut self, line: LogLine) {
        self.read += 1;
        if self.tail.is_some() && line.stream == LogStream::Wharf {
            return;
        }
        let kept = self.kept.entry(line.replica).or_default();
        kept.push_back((self.read, line));
        if self.tail.is_some_and(|tail| kept.len() > tail) {
            kept.pop_front();
        }
    }

    fn into_lines(self) -> Vec<LogLine> {
        let mut lines: Vec<(usize, LogLine)> = self.kept.into_values().flatten().collect();
        lines.sort_unstable_by_key(|(place, _)| *place);
        lines.into_iter().map(|(_, line)| line).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(service: &str, time_ms: u64, text: &str) -> LogLine {
        LogLine {
            service: service.into(),
            replica: 1,
            stream: LogStream::Stdout,
            time_ms,
            line: text.into(),
        }
    }

    #[test]
    fn lines_come_back_merged_by_time_with_tail_and_since() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_owned());
        book.write(line("web", 1, "a"));
        book.write(line("db", 2, "b"));
        book.write(line("web", 3, "c"));
        let all: Vec<_> = book
            .read(&[], None, None)
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(all, ["a", "b", "c"]);
        let tail: Vec<_> = book
            .read(&[], Some(1), None)
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(tail, ["b", "c"], "the last line of each instance");
        book.write(LogLine {
            stream: LogStream::Wharf,
            ..line("web", 4, "restarting")
        });
        let tail: Vec<_> = book
            .read(&["web".into()], Some(1), None)
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(
            tail,
            ["c"],
            "wharf's own lines are not the service's output"
        );
        let web: Vec<_> = book
            .read(&["web".into()], None, Some(2))
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(web, ["c", "restarting"]);
    }

    #[test]
    fn a_full_file_rotates_once_and_recent_lines_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::rotating_at(dir.path().to_owned(), 1000);
        for i in 0..100 {
            book.write(line("web", i, &format!("line {i:03} {}", "x".repeat(20))));
        }
        let kept = dir.path().join("web.log");
        let previous = dir.path().join("web.log.1");
        assert!(previous.exists(), "the file rotated");
        assert!(std::fs::metadata(&kept).unwrap().len() <= 1100);
        assert!(std::fs::metadata(&previous).unwrap().len() <= 1100);
        let lines = book.read(&[], None, None);
        assert_eq!(
            lines.last().unwrap().line,
            format!("line 099 {}", "x".repeat(20))
        );
        // Older rotations are dropped: storage stays bounded.
        assert!(lines.len() < 100);
        let times: Vec<u64> = lines.iter().map(|l| l.time_ms).collect();
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "in order across the two files"
        );
    }

    /// A follower slower than the services falls behind the broadcast: it gets every
    /// line it missed from the files, once, alike lines at the same millisecond too.
    #[test]
    fn a_follower_that_fell_behind_gets_each_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_owned());
        let written = |i: u64| LogLine {
            replica: 1 + u32::try_from(i % 2).unwrap(),
            ..line(
                ["web", "db"][usize::from(i.is_multiple_of(3))],
                2 + i / 700,
                &"x".repeat(usize::from(i.is_multiple_of(5))),
            )
        };
        book.write(line("web", 1, "stored"));
        let (stored, mut live) = book.follow(&[], None, None);
        let mut delivered = Delivered::new(0);
        let mut got: Vec<LogLine> = Vec::new();
        let mut take = |lines: Vec<LogLine>, delivered: &mut Delivered| {
            for line in lines {
                delivered.note(&line);
                got.push(line);
            }
        };
        take(stored, &mut delivered);
        for i in 0..10 {
            book.write(written(i));
            take(vec![live.try_recv().unwrap()], &mut delivered);
        }
        for i in 10..6000 {
            book.write(written(i));
        }
        assert!(matches!(
            live.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        let (stored, mut caught_up) = book.follow(&[], None, Some(delivered.since_ms()));
        take(delivered.unsent(stored), &mut delivered);
        book.write(written(6000));
        take(vec![caught_up.try_recv().unwrap()], &mut delivered);
        assert!(caught_up.try_recv().is_err(), "nothing twice");
        let mut expected: Vec<LogLine> = std::iter::once(line("web", 1, "stored"))
            .chain((0..=6000).map(written))
            .collect();
        // Read back merged by time: compare instance by instance.
        let by_instance = |lines: &mut Vec<LogLine>| {
            lines.sort_by_key(|l| (l.service.clone(), l.replica));
            lines
                .iter()
                .map(|l| format!("{} {} {} {}", l.service, l.replica, l.time_ms, l.line))
                .collect::<Vec<_>>()
        };
        assert_eq!(by_instance(&mut got), by_instance(&mut expected));
    }

    /// A line waited for is found stored, live, or after the watch fell behind.
    #[test]
    fn a_watched_line_is_heard_however_it_comes() {
        let dir = tempfile::tempdir().unwrap();
        let book = std::sync::Arc::new(LogBook::new(dir.path().to_owned()));
        book.write(line("web", 1, "starting"));
        let mut watch = LineWatch::new(Some(book.clone()), ("web", 1), "ready", 0);
        assert!(!watch.said());
        book.write(line("db", 2, "ready"));
        assert!(!watch.said(), "another service's");
        for i in 0..6000 {
            book.write(line("web", 3, &format!("line {i}")));
        }
        book.write(line("web", 4, "now ready"));
        assert!(watch.said(), "read back after falling behind");
        book.write(line("web", 5, "ready again"));
        let mut later = LineWatch::new(Some(book), ("web", 1), "ready", 0);
        assert!(later.said(), "stored");
    }

    #[test]
    fn logs_survive_a_new_book_on_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        LogBook::new(dir.path().to_owned()).write(line("web", 1, "kept"));
        let again = LogBook::new(dir.path().to_owned());
        assert_eq!(again.read(&[], None, None)[0].line, "kept");
    }

    /// A successor daemon notes why a service comes back before it copies what the
    /// container said meanwhile: the note must not hide those lines.
    #[test]
    fn the_last_output_is_the_services_own_not_wharfs_notes() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_owned());
        book.write(line("web", 5, "said"));
        book.write(LogLine {
            stream: LogStream::Wharf,
            ..line("web", 9, "the previous wharfd ended")
        });
        assert_eq!(book.last_output_ms("web", 1), Some(5));
        // Read back from the file by a new daemon's book, too.
        let again = LogBook::new(dir.path().to_owned());
        assert_eq!(again.last_output_ms("web", 1), Some(5));
        assert_eq!(again.last_output_ms("db", 1), None);
    }
}
