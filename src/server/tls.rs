//! Native `wss://` for `clicom serve`: the `--tls-cert`/`--tls-key` flags and the rustls
//! server configuration they load. Everything is read and checked at start-up, so a bad file
//! stops the server with an error naming it instead of failing the first client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS flags of `clicom serve` (not of `host`, whose own client connects over loopback).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Serve wss:// with this PEM certificate chain, leaf first (needs --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1/RSA or SEC1/EC).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The server configuration the flags name; `None` without them (plain `ws://`).
    pub fn server_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => server_config(cert, key).map(Some),
            _ => Ok(None),
        }
    }
}

/// Why the certificate or key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} file {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the TLS certificate file {path} is not valid PEM: {message}")]
    CertPem { path: PathBuf, message: String },
    #[error("the TLS certificate file {path} holds no certificate (expected PEM certificates)")]
    NoCertificate { path: PathBuf },
    #[error("the TLS key file {path} holds no private key (expected PKCS#8, RSA or EC, PEM)")]
    NoKey { path: PathBuf },
    #[error("the TLS key file {path} is not a valid PEM private key: {message}")]
    KeyPem { path: PathBuf, message: String },
    #[error("the private key in {key} does not match the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot use the certificate {cert} with the key {key}: {message}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// Loads a PEM certificate chain (leaf first) and its private key into a rustls server
/// configuration with the `ring` provider and ALPN `http/1.1`; checks that the key is the
/// leaf's.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_chain(cert)?;
    let private_key = load_key(key)?;
    let unusable = |e: rustls::Error| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            }
        }
        e => TlsError::Unusable {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            message: e.to_string(),
        },
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(unusable)?
    .with_no_client_auth()
    .with_single_cert(chain, private_key)
    .map_err(unusable)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of the file, in order; other PEM blocks are skipped.
fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read("certificate", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertPem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The first private key of the file, whichever of the three encodings it is in.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        e => TlsError::KeyPem {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1 and its key, both as PEM.
    fn cert_and_key(key: rcgen::KeyPair) -> (String, String) {
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_matching_certificate_and_key_load_with_http1_alpn() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = cert_and_key(rcgen::KeyPair::generate().unwrap());
        let config = server_config(
            &write(&dir, "cert.pem", &cert),
            &write(&dir, "key.pem", &key),
        )
        .unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    /// Keys in the encodings `openssl` writes by default (fixtures made with `openssl ecparam
    /// -genkey` and `openssl genrsa -traditional`, with self-signed certificates for 127.0.0.1).
    #[test]
    fn sec1_ec_and_pkcs1_rsa_keys_load() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        for (cert, key, label) in [
            ("ec-sec1.crt", "ec-sec1.key", "BEGIN EC PRIVATE KEY"),
            ("rsa-pkcs1.crt", "rsa-pkcs1.key", "BEGIN RSA PRIVATE KEY"),
        ] {
            let key = fixtures.join(key);
            assert!(std::fs::read_to_string(&key).unwrap().contains(label));
            let loaded = server_config(&fixtures.join(cert), &key);
            assert!(loaded.is_ok(), "{label}: {loaded:?}");
        }
        // And they are checked against the certificate like PKCS#8 keys.
        let err = server_config(
            &fixtures.join("ec-sec1.crt"),
            &fixtures.join("rsa-pkcs1.key"),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    }

    #[test]
    fn missing_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = cert_and_key(rcgen::KeyPair::generate().unwrap());
        let cert = write(&dir, "cert.pem", &cert);
        let key = write(&dir, "key.pem", &key);
        let nowhere = dir.path().join("nowhere.pem");

        let err = server_config(&nowhere, &key).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    what: "certificate",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("nowhere.pem"), "{err}");

        let err = server_config(&cert, &nowhere).unwrap_err();
        assert!(matches!(err, TlsError::Read { what: "key", .. }), "{err}");
        assert!(err.to_string().contains("nowhere.pem"), "{err}");
    }

    #[test]
    fn a_key_for_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = cert_and_key(rcgen::KeyPair::generate().unwrap());
        let (_, other_key) = cert_and_key(rcgen::KeyPair::generate().unwrap());
        let err = server_config(
            &write(&dir, "cert.pem", &cert),
            &write(&dir, "other.key", &other_key),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("other.key") && text.contains("cert.pem"),
            "{text}"
        );
    }

    #[test]
    fn files_without_the_expected_block_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = cert_and_key(rcgen::KeyPair::generate().unwrap());
        let cert_path = write(&dir, "cert.pem", &cert);
        let key_path = write(&dir, "key.pem", &key);

        // The certificate given as the key file, and the key as the certificate file.
        let err = server_config(&cert_path, &cert_path).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
        assert!(err.to_string().contains("cert.pem"), "{err}");
        let err = server_config(&key_path, &key_path).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");

        let empty = write(&dir, "empty.pem", "");
        let err = server_config(&cert_path, &empty).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");

        // A certificate and its key in one file serve as both.
        let both = write(&dir, "both.pem", &format!("{cert}{key}"));
        assert!(server_config(&both, &both).is_ok());
    }

    #[test]
    fn flags_come_in_pairs() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            tls: TlsArgs,
        }
        assert!(Cmd::try_parse_from(["serve", "--tls-cert", "c.pem"]).is_err());
        assert!(Cmd::try_parse_from(["serve", "--tls-key", "k.pem"]).is_err());
        let both =
            Cmd::try_parse_from(["serve", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(both.tls.tls_cert, Some(PathBuf::from("c.pem")));
        let neither = Cmd::try_parse_from(["serve"]).unwrap();
        assert!(neither.tls.server_config().unwrap().is_none());
    }
}
