//! `wharf proxy trust`: make this machine trust the proxy's local CA, where that can be
//! done safely, and say exactly how otherwise.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

use crate::cli::TrustArgs;
use crate::daemon_client;
use crate::settings::Settings;

/// Where Debian's `update-ca-certificates` takes local authorities from.
const SYSTEM_CA_DIR: &str = "/usr/local/share/ca-certificates";

pub fn trust(settings: &Settings, args: &TrustArgs) -> anyhow::Result<ExitCode> {
    let (paths, printer) = (&settings.paths, &settings.printer);
    // The daemon creates the CA when it starts.
    daemon_client::connect(paths)?;
    let ca = paths.data.join("ca/ca.pem");
    anyhow::ensure!(
        ca.exists(),
        "the local CA is missing at {}; see `wharf daemon logs`",
        ca.display()
    );
    let instructions = instructions(&ca);
    let can_install = nix::unistd::geteuid().is_root()
        && Path::new(SYSTEM_CA_DIR).is_dir()
        && Command::new("update-ca-certificates")
            .arg("--help")
            .output()
            .is_ok();
    if args.print || !can_install {
        print!("{instructions}");
        return Ok(ExitCode::SUCCESS);
    }
    let target = Path::new(SYSTEM_CA_DIR).join("wharf-local-ca.crt");
    std::fs::copy(&ca, &target)
        .with_context(|| format!("cannot copy the CA to {}", target.display()))?;
    let status = Command::new("update-ca-certificates").status()?;
    anyhow::ensure!(status.success(), "update-ca-certificates failed ({status})");
    printer.info(&format!(
        "the system now trusts the local CA ({}).",
        target.display()
    ));
    printer.info("Browsers with their own store (Firefox, Chromium's NSS) need it too:");
    print!("{}", browser_instructions(&ca));
    Ok(ExitCode::SUCCESS)
}

fn instructions(ca: &Path) -> String {
    format!(
        "The proxy's certificates come from the local CA {ca}.\n\
         To trust it system-wide on Debian or Ubuntu (as root):\n\
         \x20 cp {ca} {SYSTEM_CA_DIR}/wharf-local-ca.crt && update-ca-certificates\n\
         {}",
        browser_instructions(ca),
        ca = ca.display()
    )
}

fn browser_instructions(ca: &Path) -> String {
    format!(
        "For Chromium and Firefox profiles (NSS, from Debian's libnss3-tools):\n\
         \x20 certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n 'wharf local CA' -i {}\n",
        ca.display()
    )
}
