//! `jiralink-api`: the Jira REST client. Auth kinds, site URLs, the retry policy, the connection test
//! and diagnosis. Knows nothing of databases, vaults or command lines.

pub mod access;
pub mod adf;
pub mod auth;
pub mod client;
pub mod diagnosis;
pub mod endpoints;
pub mod models;
pub mod oauth1;
pub mod oauth2;
pub mod pages;
pub mod probe;
pub mod scopes;
pub mod secure;
mod send;
pub mod site;
pub mod write;

pub use auth::{Auth, AuthKind};
pub use client::{Client, ClientBuilder, Error, RetryPolicy};
pub use diagnosis::{Code, Diagnosis};
pub use probe::{test_connection, ConnectionReport};
