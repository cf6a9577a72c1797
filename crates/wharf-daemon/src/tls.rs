//! HTTPS for the proxy: a local certificate authority that wharf creates once and keeps
//! in its data directory (the key readable by its user only), issuing a certificate for
//! each `*.localhost` (or routed) host name as clients ask for it.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Certificates kept in memory at most; a client naming endless hosts cannot grow it.
const MAX_CACHED: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the local CA in {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the local CA: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// The CA's identity; rebuilt the same way at every start, so certificates issued with
/// the stored key chain to the stored certificate.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "wharf local development CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "wharf");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    pub certificate_path: PathBuf,
}

impl LocalCa {
    /// Loads the CA from `dir` (`ca.pem`, `ca.key`), creating it the first time.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let io = |source| TlsError::Io {
            dir: dir.to_owned(),
            source,
        };
        let (certificate_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        let key = if key_path.exists() && certificate_path.exists() {
            KeyPair::from_pem(&std::fs::read_to_string(&key_path).map_err(io)?)?
        } else {
            wharf_api::create_private_dir(dir).map_err(io)?;
            let key = KeyPair::generate()?;
            let certificate = ca_params().self_signed(&key)?;
            // Created private: the key is never readable by anyone else, not even briefly.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&key_path)
                .and_then(|mut file| file.write_all(key.serialize_pem().as_bytes()))
                .map_err(io)?;
            std::fs::write(&certificate_path, certificate.pem()).map_err(io)?;
            key
        };
        Ok(Self {
            issuer: Issuer::new(ca_params(), key),
            certificate_path,
        })
    }

    /// A certificate for `host`, signed by the CA.
    fn issue(&self, host: &str) -> Result<CertifiedKey, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, host);
        let certificate = params.signed_by(&key, &self.issuer)?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing =
            any_supported_type(&private).map_err(|e| rcgen::Error::PemError(e.to_string()))?;
        Ok(CertifiedKey::new(
            vec![CertificateDer::from(certificate.der().to_vec())],
            signing,
        ))
    }
}

/// Picks (issuing on first use) the certificate for the name a client asks for.
pub struct CertificateResolver {
    ca: LocalCa,
    /// Which names may get a certificate: `*.localhost`, or a host the proxy routes.
    allowed: Box<dyn Fn(&str) -> bool + Send + Sync>,
    cache: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for CertificateResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateResolver")
    }
}

impl CertificateResolver {
    pub fn new(ca: LocalCa, allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self {
            ca,
            allowed: Box::new(allowed),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        if !(name == "localhost" || name.ends_with(".localhost") || (self.allowed)(&name)) {
            return None;
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = cache.get(&name) {
            return Some(Arc::clone(found));
        }
        let issued = Arc::new(self.ca.issue(&name).ok()?);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(name, Arc::clone(&issued));
        Some(issued)
    }
}

/// The server configuration: certificates from `resolver`, HTTP/2 offered first.
pub fn server_config(resolver: CertificateResolver) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
