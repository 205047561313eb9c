//! One module per subcommand.

pub mod access;
pub mod apply;
pub mod connect;
pub mod credential;
pub mod demo;
pub mod insights;
pub mod progress;
pub mod serve;
pub mod sim;
pub mod sync;
pub mod user;

use std::process::ExitCode;

/// Bad usage or bad input: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The operation failed and said why already (a diagnosis was printed): exit 1, no more output.
#[derive(Debug)]
pub struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

/// The one place that turns an error into an exit code: 2 for bad usage or input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<Failed>().is_some() {
        return ExitCode::from(1);
    }
    eprintln!("error: {e:#}");
    let usage = e.downcast_ref::<UsageError>().is_some()
        || matches!(
            e.downcast_ref::<jiralink_vault::VaultError>(),
            Some(
                jiralink_vault::VaultError::NotFound(_)
                    | jiralink_vault::VaultError::Exists(_)
                    | jiralink_vault::VaultError::BadName(_)
                    | jiralink_vault::VaultError::BadMasterKey
            )
        )
        || e.downcast_ref::<jiralink_api::site::SiteUrlError>()
            .is_some();
    ExitCode::from(if usage { 2 } else { 1 })
}
