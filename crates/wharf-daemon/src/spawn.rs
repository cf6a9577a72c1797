//! Starting a service's processes without copying the daemon. Each child must lead its
//! own process group, join its cgroup, take the parent-death signal and get back the
//! open-files limit before it runs anything. std can do that only by forking, which
//! copies the daemon's page tables for every process: most of a 400-service `up`.
//! Here the child borrows the daemon's memory until it execs (`CLONE_VM |
//! CLONE_VFORK`, as `posix_spawn` does), so between the clone and the exec it makes
//! only system calls, on memory prepared before the clone. The kernel hands back a
//! pidfd with the pid, which says when the process has exited.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt as _, Interest};
use tokio::net::unix::pipe;

use crate::cgroup::Cgroup;
use crate::process::{MARKER, inherited_files_limit, signal_group};

/// What keeps every process of an instance together, so none outlives it: its
/// marker in the environment, and its cgroup where the machine gives one.
#[derive(Clone, Copy)]
pub struct Containment<'a> {
    pub marker: &'a str,
    pub cgroup: Option<&'a Cgroup>,
}

/// A started process: its pid, its output, and its exit once it comes.
pub struct Process {
    pid: u32,
    /// Readable once the process has exited; `None` once it has been reaped.
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
}

/// The child's stack until it execs: enough for a few system calls.
const CHILD_STACK: usize = 64 * 1024;

/// Starts `argv` in `dir` with the daemon's environment overlaid by `env`, contained,
/// stdin closed, stdout and stderr piped. The program is looked up in `env`'s PATH
/// when it has one, as a shell would.
pub fn spawn(
    argv: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
    containment: Containment<'_>,
) -> io::Result<Process> {
    spawn_as(argv, dir, env, containment, None)
}

/// As [`spawn`], as the user and group `user` (uid, gid) when given: the daemon must be
/// root to switch.
pub fn spawn_as(
    argv: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
    containment: Containment<'_>,
    user: Option<(u32, u32)>,
) -> io::Result<Process> {
    let (program, _) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let program = find_program(program, env.get("PATH").map(OsStr::new), dir)?;
    let arguments = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let environment = environment(env, containment.marker)?;
    let stdin = above_stdio(std::fs::File::open("/dev/null")?.into())?;
    let (stdout, stdout_writer) = pipe_above_stdio()?;
    let (stderr, stderr_writer) = pipe_above_stdio()?;
    let cgroup_procs = containment
        .cgroup
        .map(Cgroup::open_procs)
        .transpose()?
        .map(above_stdio)
        .transpose()?;
    let plan = ChildPlan {
        program,
        argv: null_terminated(&arguments),
        envp: null_terminated(&environment),
        dir: CString::new(dir.as_os_str().as_bytes())?,
        stdio: [
            stdin.as_raw_fd(),
            stdout_writer.as_raw_fd(),
            stderr_writer.as_raw_fd(),
        ],
        cgroup_procs: cgroup_procs
            .as_ref()
            .map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
        files_limit: inherited_files_limit().map(|(soft, hard)| libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        }),
        user,
        // SAFETY: an all-zero sigset_t is a valid (empty) set; it is filled below.
        #[allow(unsafe_code)]
        mask: unsafe { std::mem::zeroed() },
        failure: AtomicI32::new(0),
    };
    let (pid, pidfd) = clone_and_exec(plan)?;
    // SAFETY: the pidfd is owned here and moves into the AsyncFd, which closes it.
    #[allow(unsafe_code)]
    let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE)? };
    Ok(Process {
        pid,
        pidfd: Some(pidfd),
        status: None,
        stdout: Some(pipe::Receiver::from_owned_fd(stdout)?),
        stderr: Some(pipe::Receiver::from_owned_fd(stderr)?),
    })
}

impl Process {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to exit and collects it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let pidfd = self
            .pidfd
            .as_ref()
            .ok_or_else(|| io::Error::other("the process was already collected"))?;
        let status = exit_of(self.pid, pidfd).await?;
        self.status = Some(status);
        self.pidfd = None;
        Ok(status)
    }

    /// Reads both outputs to their end and waits for the exit.
    pub async fn output(mut self) -> io::Result<Output> {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let (out, err) = (self.stdout.take(), self.stderr.take());
        let (read_out, read_err) =
            tokio::join!(read_all(out, &mut stdout), read_all(err, &mut stderr));
        read_out?;
        read_err?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Process {
    /// A process given up on (a probe whose service stopped, or that timed out) is
    /// killed with its group, and collected, so it leaves no zombie. Its pid cannot
    /// have been reused: it is not collected yet.
    fn drop(&mut self) {
        if let (Some(pidfd), Ok(runtime)) =
            (self.pidfd.take(), tokio::runtime::Handle::try_current())
        {
            let pid = self.pid;
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            runtime.spawn(async move { exit_of(pid, &pidfd).await });
        }
    }
}

async fn read_all(from: Option<pipe::Receiver>, into: &mut Vec<u8>) -> io::Result<()> {
    match from {
        Some(mut from) => from.read_to_end(into).await.map(drop),
        None => Ok(()),
    }
}

/// Waits until the pidfd says the process has exited, then collects its status.
async fn exit_of(pid: u32, pidfd: &AsyncFd<OwnedFd>) -> io::Result<ExitStatus> {
    loop {
        let mut ready = pidfd.readable().await?;
        if let Some(status) = collect(pid, libc::WNOHANG)? {
            return Ok(status);
        }
        ready.clear_ready();
    }
}

/// `waitpid` for one child of the daemon's: `None` while it runs (with `WNOHANG`).
fn collect(pid: u32, flags: c_int) -> io::Result<Option<ExitStatus>> {
    let mut status: c_int = 0;
    // SAFETY: waitpid writes only the status it is given.
    #[allow(unsafe_code)]
    let collected = unsafe { libc::waitpid(pid.cast_signed(), &raw mut status, flags) };
    match collected {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        _ => Ok(Some(ExitStatus::from_raw(status))),
    }
}

/// Everything the child needs, prepared before the clone: it may not allocate.
struct ChildPlan {
    program: CString,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    dir: CString,
    stdio: [RawFd; 3],
    /// `cgroup.procs` of the instance's cgroup, or -1.
    cgroup_procs: RawFd,
    files_limit: Option<libc::rlimit>,
    /// The uid and gid to run as, switched to after joining the cgroup.
    user: Option<(u32, u32)>,
    /// The daemon's signal mask, which the child restores just before it execs.
    mask: libc::sigset_t,
    /// The errno of the step that failed in the child; 0 when it exec'd.
    failure: AtomicI32,
}

/// Clones a child that borrows the daemon's memory and runs `plan`; the daemon's
/// thread resumes once the child has exec'd or failed.
fn clone_and_exec(mut plan: ChildPlan) -> io::Result<(u32, OwnedFd)> {
    let mut stack = vec![0_u8; CHILD_STACK];
    let top = stack.as_mut_ptr_range().end;
    // The ABI wants the stack pointer 16-byte aligned.
    let top = top.wrapping_sub(top as usize % 16).cast::<c_void>();
    let mut pidfd: c_int = -1;
    #[allow(unsafe_code)]
    // SAFETY: every signal is blocked while the child shares the daemon's memory, so
    // no handler of the daemon's runs in it; the child runs `child_main` on its own
    // stack, which outlives it (the clone returns only once it has exec'd or exited),
    // and reads only `plan`, which it does not outlive either.
    let spawned = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const all, &raw mut plan.mask);
        let pid = libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
            (&raw mut plan).cast::<c_void>(),
            &raw mut pidfd,
        );
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(
            libc::SIG_SETMASK,
            &raw const plan.mask,
            std::ptr::null_mut(),
        );
        if pid < 0 {
            return Err(clone_error);
        }
        (pid.cast_unsigned(), OwnedFd::from_raw_fd(pidfd))
    };
    drop(stack);
    match plan.failure.load(Ordering::Acquire) {
        0 => Ok(spawned),
        errno => {
            // The child has exited already: collect it.
            let _ = collect(spawned.0, 0);
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// The child, between the clone and the exec. It shares the daemon's memory: only
/// system calls here, no allocation, no lock.
extern "C" fn child_main(plan: *mut c_void) -> c_int {
    // SAFETY: `clone_and_exec` passes its plan, alive until this child execs or exits.
    #[allow(unsafe_code)]
    let plan = unsafe { &*plan.cast::<ChildPlan>() };
    #[allow(unsafe_code)]
    // SAFETY: system calls on the plan's memory; `_exit` ends the child alone.
    unsafe {
        let errno = prepare_and_exec(plan);
        plan.failure.store(errno, Ordering::Release);
        libc::_exit(127)
    }
}

/// Each step in turn; returns the errno of the one that failed (exec returns only on
/// failure).
#[allow(unsafe_code)]
unsafe fn prepare_and_exec(plan: &ChildPlan) -> c_int {
    let errno = || {
        // SAFETY: errno is thread-local and always readable.
        unsafe { *libc::__errno_location() }
    };
    // SAFETY: each call is a system call on memory the plan owns or on the stack.
    unsafe {
        // The daemon's handlers would act for the daemon in here: back to default.
        for signal in 1..=libc::SIGRTMAX() {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &raw mut current) == 0
                && current.sa_sigaction != libc::SIG_DFL
                && current.sa_sigaction != libc::SIG_IGN
            {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &raw const default, std::ptr::null_mut());
            }
        }
        if libc::setpgid(0, 0) != 0 {
            return errno();
        }
        if plan.cgroup_procs >= 0 && libc::write(plan.cgroup_procs, b"0".as_ptr().cast(), 1) != 1 {
            return errno();
        }
        if let Some((uid, gid)) = plan.user
            && (libc::setgroups(1, &raw const gid) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0)
        {
            return errno();
        }
        // After the switch: a change of credentials clears the parent-death signal.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return errno();
        }
        if let Some(limit) = &plan.files_limit
            && libc::setrlimit(libc::RLIMIT_NOFILE, limit) != 0
        {
            return errno();
        }
        for (target, fd) in (0..).zip(plan.stdio) {
            if libc::dup2(fd, target) < 0 {
                return errno();
            }
        }
        if libc::chdir(plan.dir.as_ptr()) != 0 {
            return errno();
        }
        libc::pthread_sigmask(
            libc::SIG_SETMASK,
            &raw const plan.mask,
            std::ptr::null_mut(),
        );
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
        errno()
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The daemon's environment overlaid by `env`, with the instance's marker.
fn environment(env: &BTreeMap<String, String>, marker: &str) -> io::Result<Vec<CString>> {
    let mut all: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    all.extend(env.iter().map(|(k, v)| (k.into(), v.into())));
    all.insert(MARKER.into(), marker.into());
    all.into_iter()
        .map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend(value.as_bytes());
            CString::new(entry).map_err(io::Error::from)
        })
        .collect()
}

/// The program's path: as given when it names a path, else the first executable of
/// that name in `search` (the service's PATH, or the daemon's). Relative entries are
/// taken from the working directory, where the child will be.
fn find_program(program: &str, search: Option<&OsStr>, dir: &Path) -> io::Result<CString> {
    if program.contains('/') {
        return Ok(CString::new(program)?);
    }
    let daemons = std::env::var_os("PATH");
    let search = search
        .or(daemons.as_deref())
        .unwrap_or(OsStr::new("/usr/bin:/bin"));
    std::env::split_paths(search)
        .map(|entry| dir.join(entry).join(program))
        .find(|candidate| is_executable(candidate))
        .map(|found| CString::new(found.into_os_string().into_vec()))
        .transpose()?
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
}

fn is_executable(path: &Path) -> bool {
    path.is_file() && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// A pipe whose ends are not 0, 1 or 2, so moving one onto the child's standard
/// streams never lands on itself (which would keep close-on-exec set).
fn pipe_above_stdio() -> io::Result<(OwnedFd, OwnedFd)> {
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((above_stdio(reader)?, above_stdio(writer)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(argv: &[&str], dir: &Path, env: &[(&str, &str)]) -> io::Result<Process> {
        let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        spawn(
            &argv,
            dir,
            &env,
            Containment {
                marker: "test-marker",
                cgroup: None,
            },
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn runs_in_its_directory_with_its_environment_and_keeps_its_streams_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = runtime().block_on(async {
            run(
                &[
                    "sh",
                    "-c",
                    "echo \"$PWD $GREETING $WHARF_INSTANCE\"; echo oops >&2; exit 3",
                ],
                dir.path(),
                &[("GREETING", "hello")],
            )
            .expect("spawn")
            .output()
            .await
            .expect("output")
        });
        let cwd = dir.path().canonicalize().expect("canonical");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{} hello test-marker\n", cwd.display())
        );
        assert_eq!(output.stderr, b"oops\n");
        assert_eq!(output.status.code(), Some(3));
    }

    #[test]
    fn leads_its_own_process_group_and_reports_the_signal_that_ended_it() {
        runtime().block_on(async {
            let mut process = run(&["sleep", "30"], Path::new("/"), &[]).expect("spawn");
            let pid = process.id();
            let stat = crate::process::ProcStat::read(pid).expect("stat");
            assert_eq!(stat.group, pid);
            crate::process::signal_group(pid, nix::sys::signal::Signal::SIGTERM);
            let status = process.wait().await.expect("wait");
            assert_eq!(status.signal(), Some(libc::SIGTERM));
        });
    }

    #[test]
    fn a_program_found_nowhere_or_a_missing_directory_is_an_error_and_leaves_no_child() {
        let missing = run(&["no-such-program-here"], Path::new("/"), &[])
            .err()
            .expect("error");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let nowhere = run(&["true"], Path::new("/no/such/dir"), &[])
            .err()
            .expect("error");
        assert_eq!(nowhere.kind(), io::ErrorKind::NotFound);
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a program\n").expect("write");
        let text = text.to_str().expect("utf-8");
        let not_program = run(&[text], Path::new("/"), &[]).err().expect("error");
        assert_eq!(
            not_program.kind(),
            io::ErrorKind::PermissionDenied,
            "{not_program}"
        );
        // The failed children were collected here, not left as zombies.
        assert!(
            matches!(collect(0, libc::WNOHANG), Err(e) if e.raw_os_error() == Some(libc::ECHILD))
        );
    }

    #[test]
    fn the_service_path_finds_the_program() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("hello-tool");
        std::fs::write(&script, "#!/bin/sh\necho found\n").expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path = format!("/nonexistent:{}", dir.path().display());
        let output = runtime().block_on(async {
            run(&["hello-tool"], Path::new("/"), &[("PATH", &path)])
                .expect("spawn")
                .output()
                .await
                .expect("output")
        });
        assert_eq!(output.stdout, b"found\n");
    }
}
