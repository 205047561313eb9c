//! The connection test against real conditions: simulator identities and behaviours, closed ports,
//! unknown hosts, TLS problems, and small servers that are not Jira. No classifier is mocked.

mod diagnosis;
mod http_rule;
mod props;
mod token;
mod typed;
