//! Debian's `docker-registry` on a free loopback port, in plain HTTP or behind a
//! certificate made for the test; stopped when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{eventually, free_port};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tls {
    Authority,
    SelfSigned,
}

pub struct Registry {
    pub address: String,
    /// What a client trusts (through `SSL_CERT_FILE`) when it speaks HTTPS: the
    /// authority of its certificate, or the self-signed certificate itself.
    pub certificate: Option<PathBuf>,
    /// Where it keeps repositories, so a twin can serve the same ones.
    data: PathBuf,
    server: std::process::Child,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        Self::serve(None, None)
    }

    /// HTTPS, with a certificate issued by an authority of the test's own.
    pub fn start_tls() -> Self {
        Self::serve(Some(Tls::Authority), None)
    }

    /// A second registry over HTTPS serving this one's repositories: the Docker engine
    /// pushes to a loopback registry in plain HTTP, and Compose reads only HTTPS.
    pub fn tls_twin(&self) -> Self {
        Self::serve(Some(Tls::Authority), Some(self.data.clone()))
    }

    /// HTTPS, with the self-signed certificate `openssl req -x509` makes (marked as an
    /// authority itself), as a developer's registry often has.
    pub fn start_self_signed() -> Self {
        Self::serve(Some(Tls::SelfSigned), None)
    }

    fn serve(tls: Option<Tls>, data: Option<PathBuf>) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let data = data.unwrap_or_else(|| storage.path().join("data"));
        let address = format!("127.0.0.1:{}", free_port());
        // A certificate authority of the test's own and the registry's certificate
        // signed by it, as a company's registry has them; or one self-signed.
        let certificate = tls.map(|tls| {
            let dir = storage.path().display();
            // One line per command; the temporary directory's path has no spaces.
            let openssl = |line: String| {
                let made = Command::new("openssl")
                    .args(line.split_whitespace())
                    .stderr(Stdio::null())
                    .status()
                    .expect("these tests need openssl: `apt-get install openssl`");
                assert!(made.success(), "openssl {line}");
            };
            let new_key = "-newkey rsa:2048 -nodes";
            if tls == Tls::SelfSigned {
                openssl(format!(
                    "req -x509 {new_key} -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout {dir}/key.pem -out {dir}/cert.pem"
                ));
                return ("cert.pem", "cert.pem", "key.pem");
            }
            openssl(format!(
                "req -x509 {new_key} -days 2 -subj /CN=wharf-test-CA -keyout {dir}/ca-key.pem -out {dir}/ca.pem"
            ));
            openssl(format!(
                "req {new_key} -subj /CN=127.0.0.1 -keyout {dir}/key.pem -out {dir}/cert.csr"
            ));
            std::fs::write(
                storage.path().join("extensions.cnf"),
                "subjectAltName=IP:127.0.0.1\n",
            )
            .unwrap();
            openssl(format!(
                "x509 -req -in {dir}/cert.csr -CA {dir}/ca.pem -CAkey {dir}/ca-key.pem -CAcreateserial -days 2 -extfile {dir}/extensions.cnf -out {dir}/cert.pem"
            ));
            ("ca.pem", "cert.pem", "key.pem")
        });
        let certificate = certificate
            .map(|(trusted, cert, key)| [trusted, cert, key].map(|f| storage.path().join(f)));
        let tls_config = certificate
            .as_ref()
            .map_or_else(String::new, |[_, cert, key]| {
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
                data.display()
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
            certificate: certificate.map(|[trusted, _, _]| trusted),
            data,
            server,
            _storage: storage,
        };
        eventually("the registry answers", Duration::from_secs(10), || {
            registry.get("/v2/").is_some()
        });
        registry
    }

    /// The digests of every manifest `repository` holds, tagged or not (the registry
    /// lists only tags).
    pub fn manifests_in(&self, repository: &str) -> Vec<String> {
        let revisions = self.data.join(format!(
            "docker/registry/v2/repositories/{repository}/_manifests/revisions/sha256"
        ));
        let mut found: Vec<String> = std::fs::read_dir(revisions)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| format!("sha256:{}", entry.file_name().to_string_lossy()))
            .collect();
        found.sort();
        found
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
