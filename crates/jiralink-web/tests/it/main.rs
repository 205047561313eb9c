//! Integration tests of the web app: the authorization matrix over every API route, and the
//! browser tests in headless Chromium, the trusted reverse-proxy mode.

mod browser;
mod matrix;
mod oauth;
mod oauth1;
mod proxy;
mod support;
