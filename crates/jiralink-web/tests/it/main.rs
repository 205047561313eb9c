//! Integration tests of the web app: the authorization matrix over every API route (with the
//! store in SQLite and in PostgreSQL), the accounts in both stores, the browser tests in headless
//! Chromium, OAuth 2.0 and 1.0a, the trusted reverse-proxy mode.

mod accounts;
mod browser;
mod matrix;
mod oauth;
mod oauth1;
mod proxy;
mod support;
