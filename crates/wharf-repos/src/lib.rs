//! The repositories a project is made of (`x-wharf.repos`): where each is checked out,
//! from which URL, and the git operations over all of them — clone the missing ones,
//! update without ever overwriting work, report revisions, run a command in each.
//!
//! git itself does the work (its CLI, as argv): credentials, protocols and hooks stay
//! the user's own. Every operation runs over the repos in parallel and reports each
//! repo's outcome separately, so one failing repo never hides the others.

mod checkout;
mod git;
mod gitconfig;
mod parallel;
mod repo_set;
mod revision;
mod run_each;
mod update;

pub use checkout::{CheckoutOutcome, checkout};
pub use git::GitError;
pub use gitconfig::{TreeConfig, gitconfig};
pub use parallel::Progress;
pub use repo_set::{RepoSet, RepoSpec, ResolveError};
pub use revision::{Revision, revisions};
pub use run_each::{CommandOutput, run_each};
pub use update::{UpdateOutcome, update};
