//! TLS to PostgreSQL with rustls. `sslmode=require` in the URL turns it on, and then the server's
//! certificate is always verified (as libpq's `verify-full`): against the bundled web roots and the
//! PEM file named by `PGSSLROOTCERT` (a private CA). Without `sslmode=require` the connection is
//! plain, as before; jiralink never makes an unverified TLS connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use postgres::{Client, Config, NoTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Result, StoreError};

/// The environment variable naming extra trusted certificates (PEM), as libpq reads it.
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

/// Connects as `config` asks: TLS when its `sslmode` is `require`, plain otherwise.
pub fn connect(config: &Config) -> Result<Client> {
    match config.get_ssl_mode() {
        SslMode::Require => config.connect(Rustls(client_config()?)).map_err(|e| {
            let why = crate::with_causes(&e);
            if why.contains("invalid peer certificate") {
                StoreError::Tls(format!(
                    "the server's certificate is not trusted ({why}); if a private CA signed it, set {ROOT_CERT_ENV} to that CA's PEM file, and connect by a name the certificate carries"
                ))
            } else {
                StoreError::Postgres(e)
            }
        }),
        _ => Ok(config.connect(NoTls)?),
    }
}

/// The rustls client settings: the web roots, and `PGSSLROOTCERT`'s certificates when it is set.
fn client_config() -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os(ROOT_CERT_ENV) {
        let shown = std::path::Path::new(&path).display().to_string();
        let unreadable = |why: String| {
            StoreError::Tls(format!(
                "{ROOT_CERT_ENV}={shown}: {why}; point it at the PEM file of the CA that signed the server's certificate"
            ))
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
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
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A [`MakeTlsConnect`] over rustls.
#[derive(Clone)]
struct Rustls(Arc<rustls::ClientConfig>);

impl<S> MakeTlsConnect<S> for Rustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Handshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Handshake> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Handshake(self.0.clone(), name))
    }
}

/// A TLS handshake with one server, by the name its certificate must carry.
struct Handshake(Arc<rustls::ClientConfig>, ServerName<'static>);

type Connecting<S> = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for Handshake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Connecting<S>;

    fn connect(self, stream: S) -> Connecting<S> {
        let Handshake(config, name) = self;
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(TlsStream(tls))
        })
    }
}

/// The connection once TLS is up.
pub struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
