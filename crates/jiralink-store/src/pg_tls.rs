//! Connecting to PostgreSQL as a [`PgTarget`] says: TLS through `tokio-postgres-rustls` (with
//! SCRAM channel binding) when the URL asks `sslmode=require`, and then the server's certificate is
//! always verified (as libpq's `verify-full`) against the bundled web roots and the target's
//! `root_cert` (a private CA's PEM file); plain otherwise. jiralink never makes an unverified TLS
//! connection. Reads no environment: the binary fills the target.

use std::sync::Arc;

use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret;

use crate::postgres::PgTarget;
use crate::{Result, StoreError};

/// Where a private CA's certificate comes from, as the binary reads it (libpq's variable), for
/// messages.
const ROOT_CERT_HINT: &str = "PGSSLROOTCERT";

/// Connects as `target` asks: TLS when its URL's `sslmode` is `require`, plain otherwise.
pub(crate) fn connect(target: &PgTarget) -> Result<Client> {
    let mut config: Config = target.url.parse()?;
    if let (Some(p), None) = (&target.password, config.get_password()) {
        config.password(p.expose_secret());
    }
    match config.get_ssl_mode() {
        SslMode::Require => {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(target)?);
            config.connect(tls).map_err(|e| {
                let why = crate::with_causes(&e);
                if why.contains("invalid peer certificate") {
                    StoreError::Tls(format!(
                        "the server's certificate is not trusted ({why}); if a private CA signed it, set {ROOT_CERT_HINT} to that CA's PEM file, and connect by a name the certificate carries"
                    ))
                } else {
                    e.into()
                }
            })
        }
        _ => Ok(config.connect(NoTls)?),
    }
}

/// The rustls client settings: the web roots, and the target's `root_cert` when it has one.
fn client_config(target: &PgTarget) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &target.root_cert {
        let shown = path.display().to_string();
        let unreadable = |why: String| {
            StoreError::Tls(format!(
                "{ROOT_CERT_HINT}={shown}: {why}; point it at the PEM file of the CA that signed the server's certificate"
            ))
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| unreadable(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| unreadable(e.to_string()))?;
        if certs.is_empty() {
            return Err(unreadable("no certificate in it".to_owned()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| unreadable(format!("not a usable certificate ({e})")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
