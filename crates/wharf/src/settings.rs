//! What every command is given, resolved once in `main`: the global flags, where
//! wharf keeps its files (`WHARF_HOME`…), the user's `config.toml` (read when first
//! asked for), and the printer of messages. Commands read these, never the
//! environment or the files themselves.

use std::sync::OnceLock;

use wharf_api::Paths;
use wharf_runtime::BackendChoice;

use crate::cli::{BackendArg, GlobalArgs};
use crate::printer::Printer;
use crate::user_settings::UserSettings;

pub struct Settings {
    pub global: GlobalArgs,
    pub paths: Paths,
    pub printer: Printer,
    /// Where services run for a command with no `--backend` of its own:
    /// `WHARF_BACKEND`, else auto.
    pub backend: BackendChoice,
    user: OnceLock<UserSettings>,
}

impl Settings {
    pub fn new(global: GlobalArgs) -> Self {
        let printer = Printer::with(global.verbose, global.quiet, global.ansi, global.progress);
        Self {
            global,
            paths: Paths::from_env(),
            printer,
            // Read as `--backend` reads it.
            backend: std::env::var("WHARF_BACKEND")
                .ok()
                .and_then(|v| <BackendArg as clap::ValueEnum>::from_str(&v, true).ok())
                .unwrap_or_default()
                .into(),
            user: OnceLock::new(),
        }
    }

    /// The user's `config.toml`, read the first time it is asked for.
    pub fn user(&self) -> anyhow::Result<&UserSettings> {
        if let Some(user) = self.user.get() {
            return Ok(user);
        }
        let loaded = UserSettings::load(&self.paths)?;
        Ok(self.user.get_or_init(|| loaded))
    }
}
