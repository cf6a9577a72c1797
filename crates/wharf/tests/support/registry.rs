//! Debian's `docker-registry` on a free loopback port, in plain HTTP or behind a
//! certificate made for the test; stopped when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{eventually, free_port};

pub struct Registry {
    pub address: String,
    /// The authority of the certificate it serves, when it speaks HTTPS: a client
    /// trusts it through `SSL_CERT_FILE`.
    pub certificate: Option<PathBuf>,
    server: std::process::Child,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        Self::serve(false)
    }

    pub fn start_tls() -> Self {
        Self::serve(true)
    }

    fn serve(tls: bool) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        // A certificate authority of the test's own, and the registry's certificate
        // signed by it, as a company's registry has them.
        let certificate = tls.then(|| {
            let dir = storage.path();
            let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let request = dir.join("cert.csr");
            let extensions = dir.join("extensions.cnf");
            std::fs::write(&extensions, "subjectAltName=IP:127.0.0.1\n").unwrap();
            let openssl = |args: &[&std::ffi::OsStr]| {
                let made = Command::new("openssl")
                    .args(args)
                    .stderr(Stdio::null())
                    .status()
                    .expect("these tests need openssl: `apt-get install openssl`");
                assert!(made.success(), "openssl {args:?}");
            };
            let os = |s: &'static str| std::ffi::OsStr::new(s);
            openssl(&[
                os("req"),
                os("-x509"),
                os("-newkey"),
                os("rsa:2048"),
                os("-nodes"),
                os("-days"),
                os("2"),
                os("-subj"),
                os("/CN=wharf test CA"),
                os("-keyout"),
                ca_key.as_os_str(),
                os("-out"),
                ca.as_os_str(),
            ]);
            openssl(&[
                os("req"),
                os("-newkey"),
                os("rsa:2048"),
                os("-nodes"),
                os("-subj"),
                os("/CN=127.0.0.1"),
                os("-keyout"),
                key.as_os_str(),
                os("-out"),
                request.as_os_str(),
            ]);
            openssl(&[
                os("x509"),
                os("-req"),
                os("-in"),
                request.as_os_str(),
                os("-CA"),
                ca.as_os_str(),
                os("-CAkey"),
                ca_key.as_os_str(),
                os("-CAcreateserial"),
                os("-days"),
                os("2"),
                os("-extfile"),
                extensions.as_os_str(),
                os("-out"),
                cert.as_os_str(),
            ]);
            (ca, cert, key)
        });
        let tls_config = certificate
            .as_ref()
            .map_or_else(String::new, |(_, cert, key)| {
                format!(
                    ", tls: {{certificate: {}, key: {}}}",
                    cert.display(),
                    key.display()
                )
            });
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: {address}{tls_config}}}\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let server = Command::new("docker-registry")
            .args(["serve"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("these tests need Debian's docker-registry: run scripts/test-all, or `apt-get install docker-registry`");
        let registry = Self {
            address,
            certificate: certificate.map(|(ca, _, _)| ca),
            server,
            _storage: storage,
        };
        eventually("the registry answers", Duration::from_secs(10), || {
            registry.get("/v2/").is_some()
        });
        registry
    }

    /// The body of a GET of `path`, if the registry answers 2xx.
    pub fn get(&self, path: &str) -> Option<String> {
        self.get_as(path, "*/*")
    }

    /// A GET asking for a manifest's media type.
    pub fn get_as(&self, path: &str, accept: &str) -> Option<String> {
        let mut curl = Command::new("curl");
        curl.args(["-sf", "-H", &format!("Accept: {accept}")]);
        let scheme = match &self.certificate {
            Some(cert) => {
                curl.arg("--cacert").arg(cert);
                "https"
            }
            None => "http",
        };
        let output = curl
            .arg(format!("{scheme}://{}{path}", self.address))
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
