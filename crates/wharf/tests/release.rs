//! The release build as `scripts/build-release` makes it, with the C library linked in
//! (`scripts/test-all` builds it before the suite): what differs from the shared
//! library's build behaves. Set WHARF_SKIP_RELEASE_BUILD=1 to leave it untested.

mod support;

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use support::{Stack, bounded_output};

/// The release binary, or `None` under the opt-out; one that is missing, or linked
/// dynamically, fails the test.
fn static_release_build() -> Option<PathBuf> {
    if std::env::var("WHARF_SKIP_RELEASE_BUILD").as_deref() == Ok("1") {
        eprintln!("WHARF_SKIP_RELEASE_BUILD=1: the release build is not tested");
        return None;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let wharf = target.join("release/wharf");
    let head = std::fs::read(&wharf)
        .unwrap_or_else(|err| panic!("{}: {err}: run scripts/build-release", wharf.display()));
    // A dynamically linked binary names its loader in its first page (`.interp`).
    let start = &head[..head.len().min(4096)];
    assert!(
        !start.windows(9).any(|w| w == b"/ld-linux"),
        "{} is linked dynamically: run scripts/build-release",
        wharf.display()
    );
    Some(wharf)
}

/// A name /etc/passwd lacks is asked of glibc's own sources only: a static glibc that
/// loads the system's `libnss_systemd` for it crashes, in `exec` or in wharfd's hook.
#[test]
fn the_static_build_says_a_user_is_missing_where_it_would_crash() {
    let Some(wharf) = static_release_build() else {
        return;
    };
    let stack = Stack::new(
        r#"name: lookups
services:
  box:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  hooked:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    post_start: [{command: ["id"], user: no-such-user-here}]
"#,
    );
    let run = |args: &[&str]| bounded_output(&mut stack.command_of(&wharf, args));
    let up = run(&["up", "-d"]);
    assert_eq!(up.status.code(), Some(1), "{up:?}");
    assert!(
        String::from_utf8_lossy(&up.stderr)
            .contains("post_start `id`: user no-such-user-here: no such user on this machine"),
        "{up:?}"
    );
    for user in ["no-such-user-here", "root:no-such-group-here"] {
        let exec = run(&["exec", "-T", "-u", user, "box", "id"]);
        assert_eq!(exec.status.code(), Some(1), "{user}: {exec:?}");
        assert!(
            String::from_utf8_lossy(&exec.stderr).contains("no such"),
            "{user}: {exec:?}"
        );
    }
    // A uid no user has is asked for too, then taken as it is (becoming it needs root).
    let exec = run(&["exec", "-T", "-u", "54321", "-w", "/", "box", "id", "-u"]);
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        assert_eq!(
            String::from_utf8_lossy(&exec.stdout).trim(),
            "54321",
            "{exec:?}"
        );
    } else {
        assert!(
            String::from_utf8_lossy(&exec.stderr).contains("needs root"),
            "{exec:?}"
        );
    }
    // wharfd lived through the hook: it still answers, and says why.
    let ps = run(&["ps", "-a", "--format", "json"]);
    assert!(ps.status.success(), "{ps:?}");
    assert!(
        String::from_utf8_lossy(&ps.stdout).contains("no such user"),
        "{ps:?}"
    );
    let exec = run(&["exec", "-T", "-u", "root", "box", "id", "-u"]);
    assert_eq!(
        String::from_utf8_lossy(&exec.stdout).trim(),
        "0",
        "{exec:?}"
    );
    assert!(run(&["down"]).status.success());
}
