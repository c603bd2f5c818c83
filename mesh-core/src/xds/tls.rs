//! TLS, and mutual TLS, to a management server: the bootstrap's `tls`
//! channel creds (gRFC A65) on rustls with the ring provider.
//!
//! - **Roots**: `ca_certificate_file` is required. gRPC falls back to the
//!   platform's roots without it, but no platform store is read here (and
//!   webpki-roots would trust the public web PKI for a control plane, which
//!   is never what a mesh wants), so TLS creds without a CA file are
//!   refused when the client starts.
//! - **Identity**: with `certificate_file` and `private_key_file` the
//!   client presents that chain (mutual TLS); without them it presents
//!   none.
//! - **Server name**: the host of `server_uri`, sent as SNI and checked
//!   against the server's certificate (a DNS name, or an IP address SAN for
//!   an IP literal).
//! - **ALPN**: `h2` is offered. A server that negotiates no protocol is
//!   still spoken to in HTTP/2 (tonic uses prior knowledge).
//! - **Loading**: the PEM files are read once, when the client starts, so
//!   a missing or damaged file is an error there, naming the file.
//!   Reloading them every `refresh_interval` is not done yet: rotated
//!   certificates take effect at the next start.
//!
//! The configuration is built with [`ClientConfig::builder_with_provider`]
//! and ring: no process-wide default provider is installed or read.
//!
//! tonic gets an `http://host:port` URI and [`TlsDialer::connector`] under
//! it (through `Endpoint::connect_with_connector`): the connector does TCP
//! and the handshake, so no tonic TLS feature is needed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower::Service;

use super::bootstrap::PemFiles;

/// Why `tls` channel creds cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TlsError {
    /// The creds name no CA file (required here: see the module docs).
    #[error(
        "tls channel creds need a ca_certificate_file to verify the server \
         (the platform's root certificates are not used)"
    )]
    NoCaCertificateFile,
    /// A file could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is not valid PEM.
    #[error("{}: not valid PEM: {reason}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A file holds no section of the kind needed.
    #[error("{}: no {what} found in the PEM file", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The kind of section looked for.
        what: &'static str,
    },
    /// A CA certificate is not usable as a root.
    #[error("{}: CA certificate #{index} is not usable: {source}", .path.display())]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// Its position in the file, from 0.
        index: usize,
        /// What rustls said.
        source: rustls::Error,
    },
    /// The client certificate chain and key do not go together.
    #[error(
        "{} and {}: not a usable client identity: {source}",
        .certificate.display(),
        .key.display()
    )]
    Identity {
        /// The certificate chain file.
        certificate: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// The server URI gives no usable host.
    #[error("{reason}")]
    Target {
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration itself.
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// How to dial one TLS server: the client configuration, where to connect
/// and the name to verify.
#[derive(Debug, Clone)]
pub(crate) struct TlsDialer {
    config: Arc<ClientConfig>,
    /// Host without brackets (an IPv6 literal is bare), for the TCP dial.
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    /// `http://host:port`, the URI tonic is given.
    plain_uri: String,
}

impl TlsDialer {
    /// Loads `files` and takes host and port from `uri` (as
    /// [`XdsServer::endpoint_uri`](super::bootstrap::XdsServer::endpoint_uri)
    /// writes it; a missing port is 443).
    pub(crate) fn new(files: &PemFiles, uri: &str) -> Result<Self, TlsError> {
        if uri.starts_with("unix:") {
            return Err(TlsError::Target {
                reason: "tls channel creds over a unix socket are not supported".into(),
            });
        }
        let parsed: Uri = uri.parse().map_err(|e| TlsError::Target {
            reason: format!("not a URI: {e}"),
        })?;
        let Some(bracketed) = parsed.host().filter(|h| !h.is_empty()) else {
            return Err(TlsError::Target {
                reason: "no host to verify the server's certificate against".into(),
            });
        };
        let port = parsed.port_u16().unwrap_or(443);
        let host = bracketed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(bracketed)
            .to_owned();
        let server_name = ServerName::try_from(host.clone()).map_err(|e| TlsError::Target {
            reason: format!("{host:?} is not a valid TLS server name: {e}"),
        })?;
        Ok(Self {
            config: Arc::new(client_config(files)?),
            plain_uri: format!("http://{bracketed}:{port}"),
            host,
            port,
            server_name,
        })
    }

    /// The URI to give tonic: plain `http`, since [`Self::connector`]
    /// does the TLS.
    pub(crate) fn plain_uri(&self) -> &str {
        &self.plain_uri
    }

    /// A connector for `Endpoint::connect_with_connector`: TCP (no Nagle)
    /// to the server, then the TLS handshake. The URI tonic passes is
    /// ignored; the server is the one this dialer was made for.
    pub(crate) fn connector(
        &self,
    ) -> impl Service<
        Uri,
        Response = TokioIo<TlsStream<TcpStream>>,
        Error = io::Error,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static {
        let dialer = self.clone();
        tower::service_fn(move |_: Uri| {
            let dialer = dialer.clone();
            async move {
                let tcp = TcpStream::connect((dialer.host.as_str(), dialer.port)).await?;
                tcp.set_nodelay(true)?;
                let tls = TlsConnector::from(dialer.config)
                    .connect(dialer.server_name, tcp)
                    .await?;
                Ok(TokioIo::new(tls))
            }
        })
    }
}

/// The rustls client configuration for `files`: ring, TLS 1.2 and 1.3,
/// the CA file as the only roots, the client identity when given, ALPN
/// `h2`.
pub(crate) fn client_config(files: &PemFiles) -> Result<ClientConfig, TlsError> {
    let ca_file = files
        .ca_certificate_file
        .as_deref()
        .ok_or(TlsError::NoCaCertificateFile)?;
    let mut roots = RootCertStore::empty();
    for (index, cert) in certificates(ca_file)?.into_iter().enumerate() {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: ca_file.to_owned(),
            index,
            source,
        })?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(roots);
    let mut config = match files.identity() {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let chain = certificates(cert_file)?;
            let key = private_key(key_file)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| TlsError::Identity {
                    certificate: cert_file.to_owned(),
                    key: key_file.to_owned(),
                    source,
                })?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Every `CERTIFICATE` section of a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            path: path.to_owned(),
            what: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::Missing {
            path: path.to_owned(),
            what: "PRIVATE KEY",
        },
        other => pem_error(path, other),
    })
}

fn pem_error(path: &Path, error: pem::Error) -> TlsError {
    let path = path.to_owned();
    match error {
        pem::Error::Io(source) => TlsError::Read { path, source },
        other => TlsError::Pem {
            path,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn files(dir: &Path, ca: Option<&str>) -> PemFiles {
        PemFiles {
            certificate_file: None,
            private_key_file: None,
            ca_certificate_file: ca.map(|name| dir.join(name)),
            refresh_interval: Duration::from_secs(600),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mesh-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch dir");
        dir
    }

    #[test]
    fn a_missing_ca_file_setting_is_refused() {
        let err = client_config(&files(Path::new("/nonexistent"), None)).unwrap_err();
        assert!(matches!(err, TlsError::NoCaCertificateFile), "{err}");
        assert!(err.to_string().contains("ca_certificate_file"));
    }

    #[test]
    fn an_unreadable_or_empty_ca_file_is_named() {
        let dir = scratch("ca");
        let err = client_config(&files(&dir, Some("absent.pem"))).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err}");
        assert!(err.to_string().contains("absent.pem"), "{err}");

        std::fs::write(dir.join("empty.pem"), "no pem here\n").unwrap();
        let err = client_config(&files(&dir, Some("empty.pem"))).unwrap_err();
        assert!(matches!(err, TlsError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("empty.pem"), "{err}");

        std::fs::write(
            dir.join("broken.pem"),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = client_config(&files(&dir, Some("broken.pem"))).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_server_name_is_the_uri_host() {
        let bad = files(Path::new("/nonexistent"), None);
        let err = TlsDialer::new(&bad, "unix:///tmp/xds.sock").unwrap_err();
        assert!(matches!(err, TlsError::Target { .. }), "{err}");
        // Names are checked before files are read.
        let err = TlsDialer::new(&bad, "https://[::1]:15012").unwrap_err();
        assert!(matches!(err, TlsError::NoCaCertificateFile), "{err}");
        let err = TlsDialer::new(&bad, "https://bad_name!:15012").unwrap_err();
        assert!(matches!(err, TlsError::Target { .. }), "{err}");
    }
}
