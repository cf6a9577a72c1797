//! `wharf publish` against Debian's `docker-registry`: the artifact is Compose's own,
//! byte for byte (the oracle publishes the same project beside it), a loopback registry
//! in plain HTTP is spoken to, and nothing that could leak goes without a yes.

mod support;

use std::process::Command;

use serde_json::Value;
use support::Stack;
use support::compose_oracle::oracle_or_opt_out;
use support::registry::Registry;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The manifest at `repository:tag`, its publishing time taken out.
fn manifest(registry: &Registry, repository: &str, tag: &str) -> Value {
    let text = registry
        .get_as(&format!("/v2/{repository}/manifests/{tag}"), MANIFEST)
        .unwrap_or_else(|| panic!("the registry has no {repository}:{tag}"));
    let mut manifest: Value = serde_json::from_str(&text).unwrap();
    let created = manifest["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("org.opencontainers.image.created");
    assert!(created.is_some_and(|t| t.as_str().unwrap().ends_with('Z')));
    manifest
}

fn layer_text(layer: &Value) -> String {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(layer["data"].as_str().unwrap())
        .unwrap();
    String::from_utf8(data).unwrap()
}

fn project_with_extends_and_env_files() -> Stack {
    let stack = Stack::new(
        "name: shop\nservices:\n  web:\n    image: nginx:1\n    extends:\n      file: base.yaml\n      service: base\n    env_file:\n      - app.env\n      - path: local.env\n        required: false\n  db:\n    image: postgres:15\n    profiles: [db]\n",
    );
    let dir = stack.dir.path();
    std::fs::write(
        dir.join("base.yaml"),
        "services:\n  base:\n    extends:\n      file: common.yaml\n      service: common\n    restart: always\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("common.yaml"),
        "services:\n  common:\n    labels: {team: shop}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.override.yaml"),
        "services:\n  web:\n    ports: [\"8080:80\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("app.env"), "GREETING=hello\n").unwrap();
    stack
}

#[test]
fn the_artifact_is_composes_byte_for_byte_and_reads_back_as_composes_does() {
    let Some(compose) = oracle_or_opt_out() else {
        return;
    };
    let registry = Registry::start_tls();
    let certificate = registry.certificate.clone().unwrap();
    let stack = project_with_extends_and_env_files();
    for extra in [&[][..], &["--oci-version", "1.0"][..]] {
        let tag = if extra.is_empty() { "1" } else { "oci10" };
        let publish = |program: &str, repository: &str| {
            let target = format!("{}/{repository}:{tag}", registry.address);
            let mut args = vec!["-f", "compose.yaml", "-f", "compose.override.yaml"];
            args.extend(["publish", "--with-env", "-y"]);
            args.extend(extra);
            args.push(&target);
            let output = Command::new(program)
                .args(&args)
                .current_dir(stack.dir.path())
                .env("WHARF_HOME", stack.home.path())
                .env("SSL_CERT_FILE", &certificate)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        publish(&compose, "team/by-compose");
        publish(env!("CARGO_BIN_EXE_wharf"), "team/by-wharf");
        let theirs = manifest(&registry, "team/by-compose", tag);
        let ours = manifest(&registry, "team/by-wharf", tag);
        assert_eq!(
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&theirs).unwrap(),
            "{extra:?}"
        );
        // Every layer is a blob of the repository too, as a reader fetches it.
        for layer in ours["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            let blob = registry
                .get(&format!("/v2/team/by-wharf/blobs/{digest}"))
                .unwrap_or_else(|| panic!("blob {digest}"));
            assert_eq!(blob, layer_text(layer));
        }
    }
    let ours = manifest(&registry, "team/by-wharf", "1");
    let layers = ours["layers"].as_array().unwrap();
    let names: Vec<&str> = layers
        .iter()
        .map(|l| {
            l["annotations"]["com.docker.compose.file"]
                .as_str()
                .or_else(|| l["annotations"]["com.docker.compose.envfile"].as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(
        names.len(),
        5,
        "two files, two extended, one env file: {names:?}"
    );
    assert_eq!(&names[..2], ["compose.yaml", "compose.override.yaml"]);
    let main = layer_text(&layers[0]);
    assert!(
        main.contains(&format!("      file: {}\n", names[2])),
        "extends names the published file: {main}"
    );
    assert!(main.contains(&format!("      - {}\n", names[4])), "{main}");

    // Read back with `-f oci://` from another directory, each tool's artifact by both
    // tools: the same project.
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    // `config --format json` by `program` in that directory, as its user would run it.
    let config_there = |program: &str, files: &[&str]| {
        let output = Command::new(program)
            .args(files)
            .args(["config", "--format", "json"])
            .current_dir(elsewhere.path())
            .env("WHARF_HOME", stack.home.path())
            .env("XDG_CACHE_HOME", cache.path())
            .env("SSL_CERT_FILE", &certificate)
            .output()
            .unwrap();
        assert!(output.status.success(), "{program}: {output:?}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let read_back = |program: &str, repository: &str| {
        let address = format!("oci://{}/{repository}:1", registry.address);
        let project = config_there(program, &["-f", &address]);
        // Where each tool keeps its copy differs; what is in it must not.
        let web = &project["services"]["web"];
        assert!(
            web["env_file"].is_null() && web["environment"]["GREETING"] == "hello",
            "{project}"
        );
        project
    };
    // Included by its address, by both tools, the same.
    std::fs::write(
        elsewhere.path().join("compose.yaml"),
        format!(
            "include: [\"oci://{}/team/by-wharf:1\"]\nservices:\n  extra:\n    image: busybox\n",
            registry.address
        ),
    )
    .unwrap();
    assert_eq!(
        config_there(env!("CARGO_BIN_EXE_wharf"), &[]),
        config_there(&compose, &[])
    );
    std::fs::remove_file(elsewhere.path().join("compose.yaml")).unwrap();
    let by_compose = read_back(&compose, "team/by-wharf");
    assert_eq!(by_compose["name"], "shop");
    for repository in ["team/by-wharf", "team/by-compose"] {
        assert_eq!(
            read_back(env!("CARGO_BIN_EXE_wharf"), repository),
            by_compose,
            "{repository}"
        );
    }
}

#[test]
fn a_self_signed_certificate_is_trusted_only_where_the_user_trusts_it() {
    let registry = Registry::start_self_signed();
    let stack = Stack::new("services:\n  app:\n    image: nginx:1\n");
    let publish = |host: &str, trust: bool| {
        let mut command = stack.command(&["publish", &format!("{host}/team/app:1")]);
        if trust {
            command.env("SSL_CERT_FILE", registry.certificate.as_ref().unwrap());
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, said) = publish(&registry.address, false);
    assert!(
        !ok && said.contains("cannot trust the registry")
            && said.contains("is not one this machine trusts"),
        "{said}"
    );
    assert!(said.contains("SSL_CERT_FILE"), "the fix is named: {said}");
    // Certificates that cannot be read are said, not taken for a registry in plain HTTP.
    let output = stack
        .command(&["publish", &format!("{}/team/app:1", registry.address)])
        .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("cannot read the certificates in /nonexistent/ca.pem"),
        "{said}"
    );
    // The certificate names 127.0.0.1, not localhost.
    let port = registry.address.rsplit(':').next().unwrap();
    let (ok, said) = publish(&format!("localhost:{port}"), true);
    assert!(!ok && said.contains("not valid for name"), "{said}");
    let (ok, said) = publish(&registry.address, true);
    assert!(ok, "{said}");
    assert!(
        registry
            .get("/v2/team/app/tags/list")
            .unwrap()
            .contains("\"1\"")
    );
}

#[test]
fn a_loopback_registry_in_plain_http_gets_the_project_and_nothing_leaks_without_a_yes() {
    let registry = Registry::start();
    let stack = project_with_extends_and_env_files();
    let target = format!("{}/team/shop:2", registry.address);
    let refused = |args: &[&str], said: &str| {
        let output = stack.wharf(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(
            registry.get("/v2/team/shop/tags/list").is_none(),
            "{args:?} published something"
        );
    };
    // The environment goes only when asked, and then only with a yes.
    refused(
        &["publish", &target],
        "service \"web\" has env_file declared",
    );
    refused(&["publish", "--with-env", &target], "answer yes with -y");
    // A dry run asks nothing: it says what it would ask, and what it would publish.
    let planned = stack.wharf(&["--dry-run", "publish", "--with-env", &target]);
    let said = String::from_utf8_lossy(&planned.stderr).into_owned();
    assert!(planned.status.success(), "{said}");
    assert!(planned.stdout.is_empty(), "{planned:?}");
    assert!(
        said.contains("dry run: the artifact carries this environment")
            && said.contains("would ask \"Publish this environment?\"")
            && said.contains("  web: GREETING")
            && said.contains("would publish")
            && said.contains("compose.yaml (")
            && said.contains(".env ("),
        "{said}"
    );
    assert!(
        registry.get("/v2/team/shop/tags/list").is_none(),
        "a dry run published"
    );

    let output = stack.wharf(&["publish", "--with-env", "-y", &target]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!("published {target} (sha256:")),
        "{said}"
    );
    assert!(said.contains("5 files, OCI 1.1"), "{said}");
    let tags = registry.get("/v2/team/shop/tags/list").unwrap();
    assert!(tags.contains("\"2\""), "{tags}");
    let published = manifest(&registry, "team/shop", "2");
    let env_layer = published["layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        env_layer["mediaType"],
        "application/vnd.docker.compose.envfile"
    );
    assert_eq!(layer_text(&env_layer), "GREETING=hello\n");
    // The secret in the environment is not printed, only named.
    assert!(!said.contains("hello"), "{said}");

    // What a published project cannot carry is refused by name.
    let build_only = Stack::new("services:\n  app:\n    build: .\n");
    let output = build_only.wharf(&["publish", "-y", &target]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("app only builds an image and names none"),
        "{output:?}"
    );
    // A published project is included by its address, and may be published in turn; a
    // local include may not.
    let remote_include = Stack::new(&format!(
        "include: [\"oci://{}/team/shop:2\"]\nservices:\n  extra:\n    image: busybox\n",
        registry.address
    ));
    let services = remote_include.ok(&["config", "--services"]);
    assert_eq!(
        services.lines().collect::<std::collections::BTreeSet<_>>(),
        ["extra", "web"].into(),
        "{services}"
    );
    remote_include.ok(&[
        "publish",
        "--with-env",
        "-y",
        &format!("{}/team/on-top:1", registry.address),
    ]);
    let includes = Stack::new("include: [other.yaml]\nservices:\n  app:\n    image: nginx:1\n");
    std::fs::write(includes.dir.path().join("other.yaml"), "services: {}\n").unwrap();
    let output = includes.wharf(&["publish", "-y", &target]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("it includes local files"),
        "{output:?}"
    );
    let binds = Stack::new("services:\n  app:\n    image: nginx:1\n    volumes: [./src:/src]\n");
    let output = binds.wharf(&["publish", &target]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("app: ") && said.contains("/src → /src"),
        "{said}"
    );
    assert!(said.contains("answer yes with -y"), "{said}");
    // A credential written into a file is found by its shape and named, not printed.
    let key = "AKIAIOSFODNN7EXAMPLE";
    let leaky = Stack::new(&format!(
        "services:\n  app:\n    image: nginx:1\n    command: deploy --key {key}\n"
    ));
    let output = leaky.wharf(&["publish", &target]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("compose.yaml:4: an AWS access key"), "{said}");
    assert!(!said.contains(key), "{said}");
    // Without an engine the images are not pushed, and the project is still published.
    let built = Stack::new(&format!(
        "services:\n  app:\n    image: {}/team/app:1\n    build: .\n",
        registry.address
    ));
    let output =
        built.wharf_without_engine(&["publish", &format!("{}/team/built:1", registry.address)]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("the images services build were not pushed"),
        "{said}"
    );
    assert!(said.contains("1 file, OCI 1.1"), "{said}");
    let output = binds.wharf(&["publish", "not a/name"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a repository reference"),
        "{output:?}"
    );
}

#[test]
fn what_a_published_project_names_reads_back_as_it_loads_here() {
    let registry = Registry::start();
    // An anchor that names an env file, merged into two services; an extended file in a
    // directory of its own that names an env file beside it.
    let stack = Stack::new(
        "x-common: &common\n  image: alpine:${TAG:-3}\n  env_file: [shared.env]\nservices:\n  one:\n    <<: *common\n  two:\n    <<: *common\n  worker:\n    extends:\n      file: config/base.yaml\n      service: base\n",
    );
    let dir = stack.dir.path();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("config/base.yaml"),
        "services:\n  base:\n    image: alpine:3\n    env_file: ../envs/worker.env # beside the project\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("envs")).unwrap();
    std::fs::write(dir.join("envs/worker.env"), "CONCURRENCY=4\n").unwrap();
    std::fs::write(dir.join("shared.env"), "SHARED=yes\n").unwrap();
    let here = stack.ok(&["config", "--format", "json"]);
    let target = format!("{}/team/anchors:1", registry.address);
    stack.ok(&["publish", "--with-env", "-y", &target]);

    // Read back from a directory whose .env is the reader's own: it may set the
    // variables, not the artifact; and the artifact cannot name the project.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join(".env"), "TAG=edge\n").unwrap();
    let read = |args: &[&str]| {
        let output = stack
            .command(&[&["-f", &format!("oci://{target}")][..], args].concat())
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let back = read(&["config", "--format", "json"]);
    let here: Value = serde_json::from_str(&here).unwrap();
    for service in ["one", "two", "worker"] {
        assert_eq!(
            back["services"][service]["environment"], here["services"][service]["environment"],
            "{service}"
        );
    }
    assert_eq!(
        back["services"]["worker"]["environment"]["CONCURRENCY"],
        "4"
    );
    assert_eq!(back["services"]["one"]["image"], "alpine:edge");
    assert_eq!(
        back["name"],
        elsewhere
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_lowercase()
            .replace('.', "")
    );

    // Offline, the copy fetched last still answers, and says so.
    drop(registry);
    let output = stack
        .command(&[
            "-f",
            &format!("oci://{target}"),
            "config",
            "--format",
            "json",
        ])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("using the copy of") && said.contains("fetched last"),
        "{said}"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        back
    );
}
