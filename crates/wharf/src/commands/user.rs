//! `wharf root` and `wharf whoami`: the user's own settings, printed or set.

use std::process::ExitCode;

use crate::cli::{RootArgs, WhoamiArgs};
use crate::settings::Settings;
use crate::user_settings::{UserSettings, expand_path};

pub fn root(settings: &Settings, args: &RootArgs) -> anyhow::Result<ExitCode> {
    // Read afresh, not through `settings.user()`: this command changes the file.
    let mut own = UserSettings::load(&settings.paths)?;
    if args.unset {
        own.unset("root")?;
        eprintln!("no root set: each project's repos go under its own directory");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(raw) = &args.dir {
        if raw.is_empty() {
            anyhow::bail!("an empty root names no directory: `wharf root --unset` forgets it");
        }
        let dir = expand_path(raw, &std::env::current_dir()?)?;
        own.set("root", dir.display().to_string())?;
        println!("{}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(dir) = own.root() else {
        eprintln!(
            "no root set: each project's repos go under its own directory\nhint: wharf root ~/src"
        );
        return Ok(ExitCode::FAILURE);
    };
    println!("{}", dir.display());
    Ok(ExitCode::SUCCESS)
}

pub fn whoami(settings: &Settings, args: &WhoamiArgs) -> anyhow::Result<ExitCode> {
    let mut own = UserSettings::load(&settings.paths)?;
    if let Some(user) = &args.user {
        if user.is_empty() || user.contains(['/', ' ', ':']) {
            anyhow::bail!("`{user}` is not an account name");
        }
        own.set("user", user.clone())?;
        println!("{user}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(user) = own.user() {
        println!("{user}");
        return Ok(ExitCode::SUCCESS);
    }
    // Unset: the project's default owner, when there is a project here.
    let owner = crate::project_ref::load(settings)
        .ok()
        .and_then(|loaded| loaded.project.wharf.owner);
    let Some(owner) = owner else {
        eprintln!("no user set, and the project names no owner\nhint: wharf whoami NAME");
        return Ok(ExitCode::FAILURE);
    };
    println!("{owner}");
    Ok(ExitCode::SUCCESS)
}
