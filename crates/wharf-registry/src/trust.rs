//! Which certificate authorities a registry's certificate may come from: the system's
//! bundle (or `SSL_CERT_FILE`'s, as OpenSSL and Go take it), and any `*.crt` Docker
//! keeps for that registry in `/etc/docker/certs.d/<registry>/`.

use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::RegistryError;

/// Debian's bundle, made by `update-ca-certificates`.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const DOCKER_CERTS: &str = "/etc/docker/certs.d";

pub fn roots(registry: &str) -> Result<RootCertStore, RegistryError> {
    let mut store = RootCertStore::empty();
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map_or_else(|| PathBuf::from(SYSTEM_BUNDLE), PathBuf::from);
    // A machine without the bundle still reaches registries Docker has certificates for.
    if bundle.exists() || std::env::var_os("SSL_CERT_FILE").is_some() {
        add_file(&mut store, &bundle)?;
    }
    let docker_dir = Path::new(DOCKER_CERTS).join(registry);
    if let Ok(entries) = std::fs::read_dir(&docker_dir) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "crt"))
            .collect();
        files.sort();
        for file in files {
            add_file(&mut store, &file)?;
        }
    }
    Ok(store)
}

fn add_file(store: &mut RootCertStore, path: &Path) -> Result<(), RegistryError> {
    let failed = |reason: String| RegistryError::Certificates {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|err| failed(err.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| failed(err.to_string()))?;
    if certificates.is_empty() {
        return Err(failed("no PEM certificate in it".to_owned()));
    }
    // One odd certificate in a system bundle must not cost the user every other.
    store.add_parsable_certificates(certificates);
    Ok(())
}
