//! Which certificates a registry may present: those issued by the system's authorities
//! (or `SSL_CERT_FILE`'s, as OpenSSL and Go take it) or by any `*.crt` Docker keeps for
//! that registry in `/etc/docker/certs.d/<registry>/`; and, as Go accepts it, a
//! self-signed certificate listed there itself, even one marked as an authority (what
//! `openssl req -x509` makes), when it names the host.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::RegistryError;

/// Debian's bundle, made by `update-ca-certificates`.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const DOCKER_CERTS: &str = "/etc/docker/certs.d";

pub fn verifier(
    registry: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, RegistryError> {
    let trusted = trusted_certificates(registry)?;
    let mut roots = RootCertStore::empty();
    // One odd certificate in a system bundle must not cost the user every other.
    roots.add_parsable_certificates(trusted.iter().cloned());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|err| RegistryError::Certificates {
            path: PathBuf::from(SYSTEM_BUNDLE),
            reason: err.to_string(),
        })?;
    Ok(Arc::new(Verifier { webpki, trusted }))
}

fn trusted_certificates(registry: &str) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let mut trusted = Vec::new();
    let chosen = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let bundle = chosen
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
    // A machine without the bundle still reaches registries Docker has certificates for.
    if chosen.is_some() || bundle.exists() {
        trusted.extend(read_pem(&bundle)?);
    }
    if let Ok(entries) = std::fs::read_dir(Path::new(DOCKER_CERTS).join(registry)) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "crt"))
            .collect();
        files.sort();
        for file in files {
            trusted.extend(read_pem(&file)?);
        }
    }
    Ok(trusted)
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
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
    Ok(certificates)
}

struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    trusted: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier")
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        // Only the server holding this very certificate's key gets this far.
        if verdict.is_err() && self.trusted.iter().any(|known| known == end_entity) {
            verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
