//! Accepts connections (plain or TLS with a self-signed certificate made at start) and serves HTTP/1.1
//! on them until the simulator stops.

use std::path::PathBuf;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::SimError;

pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// PEM of the self-signed certificate, for clients to trust.
    pub ca_path: PathBuf,
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`, its PEM written to a temp file.
pub fn self_signed() -> Result<Tls, SimError> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert =
        rcgen::generate_simple_self_signed(names).map_err(|e| SimError::Tls(e.to_string()))?;
    let pem = cert.cert.pem();
    let dir = std::env::temp_dir().join(format!("jiralink-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| SimError::Tls(e.to_string()))?;
    let ca_path = dir.join(format!("ca-{}.pem", rand::random::<u32>()));
    std::fs::write(&ca_path, &pem).map_err(|e| SimError::Tls(e.to_string()))?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_path,
    })
}

pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<TlsAcceptor>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let tls = tls.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                }
            }
        });
    }
}
