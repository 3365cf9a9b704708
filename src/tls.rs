//! TLS both ways (SPEC §8), with rustls and its `ring` provider:
//! - to the upstream: an `https://` upstream's certificate is verified against the Mozilla
//!   roots built in (`webpki-roots`, the same on every machine) or, instead, the PEM
//!   certificates of `upstream.ca_file`. There is no switch to skip verification.
//! - on the listeners: `[server.tls]` gives both of them a certificate and key (PEM).
//!
//! HTTP/1.1 only, as everywhere in omnigate. Every problem is one line naming the key and file.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::config::ServerTls;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the upstream client trusts: `upstream.ca_file` when given, else the built-in roots.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = read_certs("upstream.ca_file", path)?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|error| format!("upstream.ca_file {}: {error}", path.display()))?;
            }
        }
    }
    // No ALPN here: the HTTP/1.1 connector (hyper-rustls) offers it.
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The listeners' certificate and key.
pub fn server_config(tls: &ServerTls) -> Result<Arc<ServerConfig>, String> {
    let certs = read_certs("server.tls.cert", &tls.cert)?;
    let key = read_key(&tls.key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| {
            format!(
                "server.tls: {} and {} do not make a certificate and its key: {error}",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn open(key: &str, path: &Path) -> Result<BufReader<File>, String> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|error| format!("{key}: cannot read {}: {error}", path.display()))
}

fn read_certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut open(key, path)?)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{key}: {} is not PEM: {error}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key}: {} holds no certificate", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    // The key's own bytes never reach a message: only the file's name and what is wrong.
    rustls_pemfile::private_key(&mut open("server.tls.key", path)?)
        .map_err(|_| format!("server.tls.key: {} is not PEM", path.display()))?
        .ok_or_else(|| format!("server.tls.key: {} holds no private key", path.display()))
}
