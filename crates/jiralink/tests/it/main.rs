//! The `jiralink` binary end to end against the simulator: credential commands, exit codes, and
//! the canary check that a secret never leaves the vault in plaintext.

mod access;
mod apply;
mod credential;
mod hardening;
mod insights;
mod insights_postgres;
mod json_output;
mod postgres;
mod serve;
mod sync;
mod tidy;
