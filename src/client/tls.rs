//! What the client trusts for `wss://`: the built-in web PKI roots, plus the certificates of a
//! CA file the user names (`--ca-file` or `ca_file` in the settings) for a server whose
//! certificate comes from a private or self-made CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why a CA file cannot be used. Reported at start-up, before the terminal is taken over.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read the CA file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the CA file {path} is not valid PEM: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("the CA file {path} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)")]
    Empty { path: PathBuf },
    #[error("certificate {index} in the CA file {path} cannot be a trusted root: {message}")]
    Unusable {
        path: PathBuf,
        index: usize,
        message: String,
    },
}

/// Reads every certificate of a PEM file (other PEM blocks, such as keys, are skipped) and
/// checks that each can serve as a trusted root.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaFileError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    for (i, cert) in certs.iter().enumerate() {
        let mut probe = rustls::RootCertStore::empty();
        probe.add(cert.clone()).map_err(|e| CaFileError::Unusable {
            path: path.to_path_buf(),
            index: i + 1,
            message: e.to_string(),
        })?;
    }
    Ok(certs)
}

/// A rustls client configuration with the `ring` provider (no cmake or nasm needed to build),
/// the web PKI roots and `extra_roots`, built per network task rather than installed
/// process-wide.
pub fn client_config(extra_roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        if let Err(err) = roots.add(cert.clone()) {
            tracing::warn!(%err, "ignoring an extra root certificate");
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the ring provider supports rustls' default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate: its DER and its PEM text.
    fn ca(name: &str) -> (CertificateDer<'static>, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.der().clone(), cert.pem())
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn every_certificate_of_a_bundle_is_loaded_and_keys_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (one, one_pem) = ca("one");
        let (two, two_pem) = ca("two");
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let bundle = format!("{one_pem}\n{key}\n{two_pem}");
        let certs = load_ca_file(&write(&dir, "bundle.pem", &bundle)).unwrap();
        assert_eq!(certs, vec![one, two]);
    }

    #[test]
    fn unusable_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = load_ca_file(&missing).unwrap_err();
        assert!(matches!(err, CaFileError::Read { .. }), "{err}");
        assert!(err.to_string().contains("nope.pem"), "{err}");

        let key_only = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = load_ca_file(&write(&dir, "key.pem", &key_only)).unwrap_err();
        assert!(matches!(err, CaFileError::Empty { .. }), "{err}");

        let err = load_ca_file(&write(&dir, "empty.pem", "")).unwrap_err();
        assert!(matches!(err, CaFileError::Empty { .. }), "{err}");

        let garbage =
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        let err = load_ca_file(&write(&dir, "garbage.pem", garbage)).unwrap_err();
        assert!(matches!(err, CaFileError::Pem { .. }), "{err}");

        // Valid base64, but not a certificate.
        let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let err = load_ca_file(&write(&dir, "junk.pem", junk)).unwrap_err();
        assert!(
            matches!(err, CaFileError::Unusable { index: 1, .. }),
            "{err}"
        );
    }
}
