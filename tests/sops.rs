//! SOPS-encrypted secrets in Git (issue 19), with the real sops binary and an age key made for
//! the tests (tests/support/sops): decrypted at render, applied with their plaintext, quiet
//! when re-encrypted, refused with the file named when they cannot be read, never printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{repo_root, Gitops, Run};
use common::cluster::cache_bin_dir;
use common::kubectl::{kubectl_ok, TestNamespace};
use gitops::mask::base64;

fn key_file(name: &str) -> PathBuf {
    repo_root().join("tests/support/sops").join(name)
}

/// The public key written in a key file's comment.
fn recipient(name: &str) -> String {
    std::fs::read_to_string(key_file(name))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a public key line")
        .to_owned()
}

fn sops() -> PathBuf {
    let sops = cache_bin_dir().join("sops");
    assert!(
        sops.is_file(),
        "{} is missing: run scripts/testenv provision",
        sops.display()
    );
    sops
}

/// Encrypts `plaintext` for the test key with the real sops, as a user would
/// (`--encrypted-regex` for manifests, whole files for values).
fn encrypt(dir: &Path, file: &str, plaintext: &str, regex: Option<&str>) {
    encrypt_for(dir, file, plaintext, regex, &recipient("age-key.txt"));
}

/// `encrypt` for these recipients (comma-separated age public keys).
fn encrypt_for(dir: &Path, file: &str, plaintext: &str, regex: Option<&str>, recipients: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, plaintext).unwrap();
    let mut command = Command::new(sops());
    command.env("SOPS_DISABLE_VERSION_CHECK", "1").args([
        "encrypt",
        "--in-place",
        "--age",
        recipients,
    ]);
    if let Some(regex) = regex {
        command.args(["--encrypted-regex", regex]);
    }
    let output = command.arg(&path).output().unwrap();
    assert!(
        output.status.success(),
        "sops encrypt: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let encrypted = std::fs::read_to_string(&path).unwrap();
    assert!(
        encrypted.contains("ENC[AES256_GCM")
            && (encrypted.contains("sops:") || encrypted.contains("sops_mac=")),
        "{encrypted}"
    );
}

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// gitops with the test key (or `key`), and a HOME without sops' default key locations.
fn gitops(dir: &Path, key: Option<&str>, args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut run = Gitops::new(args.iter().copied())
        .current_dir(dir)
        .on_cluster()
        .env("HOME", home.path())
        .env("GITOPS_SOPS", sops())
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_CMD");
    run = match key {
        Some(name) => run.env("SOPS_AGE_KEY_FILE", key_file(name)),
        None => run.env_remove("SOPS_AGE_KEY_FILE"),
    };
    run.run()
}

fn secret(ns: &str, name: &str, plaintext: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n# Only the values are encrypted.\nstringData:\n  password: {plaintext}\n  user: shop\n")
}

fn stored(ns: &str, name: &str, key: &str) -> String {
    kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "secret",
            name,
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ],
        None,
    )
}

fn assert_never_printed(run: &Run, values: &[&str]) {
    for value in values {
        for form in [value.to_string(), base64(value.as_bytes())] {
            assert!(
                !run.stdout.contains(&form) && !run.stderr.contains(&form),
                "{value} was printed:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}

#[test]
fn an_encrypted_secret_is_applied_with_its_plaintext_and_re_encryption_is_no_change() {
    let ns = TestNamespace::new("sops-plain");
    let dir = tempfile::tempdir().unwrap();
    let first = "correct-horse-battery-1";
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret(&ns.name, "db", first),
        Some("^(data|stringData)$"),
    );
    write(dir.path(), "app/settings.yaml", &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {}\ndata:\n  mode: fast\n", ns.name));

    let apply = gitops(
        dir.path(),
        Some("age-key.txt"),
        &["apply", "app", "--name", "sops-app", "-v"],
    );
    apply.expect_code(0);
    assert_eq!(stored(&ns.name, "db", "password"), base64(first.as_bytes()));
    assert_never_printed(&apply, &[first]);
    gitops(
        dir.path(),
        Some("age-key.txt"),
        &["diff", "app", "--name", "sops-app"],
    )
    .expect_code(0);

    // The same plaintext encrypted again: new nonces, MAC and date, no change.
    let before = std::fs::read_to_string(dir.path().join("app/db.yaml")).unwrap();
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret(&ns.name, "db", first),
        Some("^(data|stringData)$"),
    );
    assert_ne!(
        std::fs::read_to_string(dir.path().join("app/db.yaml")).unwrap(),
        before
    );
    gitops(
        dir.path(),
        Some("age-key.txt"),
        &["diff", "app", "--name", "sops-app"],
    )
    .expect_code(0);

    // New recipients (a key added): no change either; the new key alone decrypts it.
    let both = format!(
        "{},{}",
        recipient("age-key.txt"),
        recipient("other-age-key.txt")
    );
    encrypt_for(
        dir.path(),
        "app/db.yaml",
        &secret(&ns.name, "db", first),
        Some("^(data|stringData)$"),
        &both,
    );
    gitops(
        dir.path(),
        Some("other-age-key.txt"),
        &["diff", "app", "--name", "sops-app"],
    )
    .expect_code(0);

    // One changed value is one masked update, in every format.
    let second = "correct-horse-battery-2";
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret(&ns.name, "db", second),
        Some("^(data|stringData)$"),
    );
    for format in ["text", "json", "markdown"] {
        let diff = gitops(
            dir.path(),
            Some("age-key.txt"),
            &["diff", "app", "--name", "sops-app", "-o", format, "-v"],
        );
        diff.expect_code(2);
        assert!(diff.stdout.contains("<hidden: changed>"), "{}", diff.stdout);
        assert_never_printed(&diff, &[first, second]);
    }
    // render masks unless asked.
    let render = gitops(dir.path(), Some("age-key.txt"), &["render", "app"]);
    render.expect_code(0);
    assert_never_printed(&render, &[second]);
    let shown = gitops(
        dir.path(),
        Some("age-key.txt"),
        &["render", "app", "--show-secrets"],
    );
    assert!(shown.stdout.contains(second));
    // A masked render fed back is refused before the cluster sees it.
    let masked = Gitops::new(["apply", "-", "--name", "sops-app"])
        .on_cluster()
        .stdin(render.stdout.clone())
        .run();
    masked.expect_code(1);
    assert!(
        masked.stderr.contains("--show-secrets") && masked.stderr.contains("Secret"),
        "{}",
        masked.stderr
    );
    assert_eq!(stored(&ns.name, "db", "password"), base64(first.as_bytes()));
}

#[test]
fn encrypted_helm_values_reach_the_chart() {
    let ns = TestNamespace::new("sops-helm");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "chart/Chart.yaml",
        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    );
    write(
        dir.path(),
        "chart/values.yaml",
        "database:\n  host: db.local\n  password: \"\"\n",
    );
    write(
        dir.path(),
        "chart/templates/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-db\nstringData:\n  host: {{ .Values.database.host }}\n  password: {{ .Values.database.password | quote }}\n",
    );
    write(
        dir.path(),
        "chart/values-production.yaml",
        "database:\n  host: db.production\n",
    );
    let password = "tr0ub4dor-and-3";
    encrypt(
        dir.path(),
        "chart/secrets-production.yaml",
        &format!("database:\n  password: {password}\n"),
        None,
    );
    write(
        dir.path(),
        "gitops.yaml",
        &format!("targets:\n  - name: api\n    path: chart\n    namespace: {}\n    helm: {{values: [values-production.yaml, secrets-production.yaml]}}\n", ns.name),
    );
    let apply = gitops(dir.path(), Some("age-key.txt"), &["apply", "-v"]);
    apply.expect_code(0);
    assert_never_printed(&apply, &[password]);
    assert_eq!(
        stored(&ns.name, "api-db", "password"),
        base64(password.as_bytes())
    );
    assert_eq!(stored(&ns.name, "api-db", "host"), base64(b"db.production"));
    gitops(dir.path(), Some("age-key.txt"), &["diff"]).expect_code(0);
}

#[test]
fn a_missing_key_a_wrong_key_and_a_tampered_file_stop_before_any_write() {
    let ns = TestNamespace::new("sops-bad");
    let dir = tempfile::tempdir().unwrap();
    let value = "never-written-value";
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret(&ns.name, "db", value),
        Some("^(data|stringData)$"),
    );
    let recipient = recipient("age-key.txt");

    let none = gitops(dir.path(), None, &["apply", "app", "--name", "sops-bad"]);
    none.expect_code(1);
    assert!(
        none.stderr
            .contains("db.yaml is encrypted with SOPS for age ")
            && none.stderr.contains(&recipient)
            && none.stderr.contains("SOPS_AGE_KEY_FILE"),
        "{}",
        none.stderr
    );
    assert!(!none.stderr.contains("AGE-SECRET-KEY"), "{}", none.stderr);

    let wrong = gitops(
        dir.path(),
        Some("other-age-key.txt"),
        &["apply", "app", "--name", "sops-bad"],
    );
    wrong.expect_code(1);
    assert!(
        wrong
            .stderr
            .contains("none of their keys is available here"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("AGE-SECRET-KEY"), "{}", wrong.stderr);

    let text = std::fs::read_to_string(dir.path().join("app/db.yaml")).unwrap();
    let at = text.find("mac: ENC[AES256_GCM,data:").unwrap() + "mac: ENC[AES256_GCM,data:".len();
    let flipped = if &text[at..at + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &text[..at], &text[at + 1..]);
    std::fs::write(dir.path().join("app/db.yaml"), tampered).unwrap();
    let bad = gitops(
        dir.path(),
        Some("age-key.txt"),
        &["apply", "app", "--name", "sops-bad"],
    );
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("db.yaml") && bad.stderr.contains("MAC"),
        "{}",
        bad.stderr
    );

    for run in [&none, &wrong, &bad] {
        assert_never_printed(run, &[value]);
    }
    assert_eq!(
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "secrets,configmaps",
                "-l",
                "applyset.kubernetes.io/part-of",
                "-o",
                "name"
            ],
            None
        ),
        ""
    );
}

/// Files under `dir` in gitops' temporary directories (`gitops-*`) that contain a value.
fn files_containing(dir: &Path, values: &[&str]) -> Vec<String> {
    fn visit(path: &Path, values: &[&str], found: &mut Vec<String>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                visit(&entry.path(), values, found);
            }
        } else if let Ok(text) = std::fs::read_to_string(path) {
            if values
                .iter()
                .any(|v| text.contains(v) || text.contains(&base64(v.as_bytes())))
            {
                found.push(path.display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("gitops-") {
            visit(&entry.path(), values, &mut found);
        }
    }
    found
}

/// Copies gitops left in memory-backed storage.
fn scratch_left() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("gitops-sops-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_kustomize_overlay_with_encrypted_resources_and_a_component_generator_is_built_from_plaintext()
{
    let ns = TestNamespace::new("sops-kustomize");
    let dir = tempfile::tempdir().unwrap();
    let (password, api_key) = ("kustomized-secret-1", "component-api-key-7");
    encrypt(
        dir.path(),
        "base/db.yaml",
        &secret(&ns.name, "db", password),
        Some("^(data|stringData)$"),
    );
    write(
        dir.path(),
        "base/kustomization.yaml",
        "resources: [db.yaml]\n",
    );
    encrypt(
        dir.path(),
        "components/api/api.env",
        &format!("API_KEY={api_key}\nREGION=eu\n"),
        None,
    );
    write(
        dir.path(),
        "components/api/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nsecretGenerator:\n  - name: api\n    envs: [api.env]\n",
    );
    write(
        dir.path(),
        "overlay/kustomization.yaml",
        &format!(
            "namespace: {}\nresources: [../base]\ncomponents: [../components/api]\n",
            ns.name
        ),
    );
    let apply = gitops(
        dir.path(),
        Some("age-key.txt"),
        &["apply", "overlay", "--name", "sops-kustomize", "-v"],
    );
    apply.expect_code(0);
    assert_never_printed(&apply, &[password, api_key]);
    assert!(
        !apply.stderr.contains("/dev/shm") && !apply.stdout.contains("/dev/shm"),
        "{}",
        apply.stderr
    );
    assert_eq!(
        stored(&ns.name, "db", "password"),
        base64(password.as_bytes())
    );
    let generated = kubectl_ok(&["-n", &ns.name, "get", "secrets", "-o", "name"], None);
    let api = generated
        .lines()
        .find_map(|l| l.strip_prefix("secret/").filter(|n| n.starts_with("api-")))
        .unwrap_or_else(|| panic!("no generated api secret in {generated}"));
    assert_eq!(stored(&ns.name, api, "API_KEY"), base64(api_key.as_bytes()));
    gitops(
        dir.path(),
        Some("age-key.txt"),
        &["diff", "overlay", "--name", "sops-kustomize"],
    )
    .expect_code(0);

    // Encrypted again with the same plaintext: the generator's hash is the same, no change.
    encrypt(
        dir.path(),
        "components/api/api.env",
        &format!("API_KEY={api_key}\nREGION=eu\n"),
        None,
    );
    gitops(
        dir.path(),
        Some("age-key.txt"),
        &["diff", "overlay", "--name", "sops-kustomize"],
    )
    .expect_code(0);

    // A kustomize failure names the real files, never the copy, and leaves no copy behind.
    write(
        dir.path(),
        "overlay/kustomization.yaml",
        &format!(
            "namespace: {}\nresources: [../base, missing.yaml]\ncomponents: [../components/api]\n",
            ns.name
        ),
    );
    let failed = gitops(
        dir.path(),
        Some("age-key.txt"),
        &["diff", "overlay", "--name", "sops-kustomize"],
    );
    failed.expect_code(1);
    assert!(
        !failed.stderr.contains("/dev/shm") && failed.stderr.contains("missing.yaml"),
        "{}",
        failed.stderr
    );
    assert_never_printed(&failed, &[password, api_key]);
    // No temporary file of gitops holds a plaintext value.
    let leaks = files_containing(&std::env::temp_dir(), &[password, api_key]);
    assert!(leaks.is_empty(), "decrypted values in {leaks:?}");
    // Nothing stays in memory-backed storage (another test's copy may come and go meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !scratch_left().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "left in /dev/shm: {:?}",
            scratch_left()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_during_a_build_removes_the_decrypted_copy() {
    let dir = tempfile::tempdir().unwrap();
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret("shop", "db", "interrupted-secret"),
        Some("^(data|stringData)$"),
    );
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources: [db.yaml]\n",
    );
    // A kustomize that hangs, so that the copy is in use when the signal comes.
    let bin = tempfile::tempdir().unwrap();
    let slow = bin.path().join("kustomize");
    std::fs::write(&slow, "#!/bin/sh\nsleep 60\n").unwrap();
    let mut permissions = std::fs::metadata(&slow).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&slow, permissions).unwrap();
    let before = scratch_left();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["render", "app"])
        .current_dir(dir.path())
        .env("GITOPS_KUSTOMIZE", &slow)
        .env("GITOPS_SOPS", sops())
        .env("SOPS_AGE_KEY_FILE", key_file("age-key.txt"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let made = loop {
        let now: Vec<String> = scratch_left()
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        if !now.is_empty() {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no decrypted copy appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130));
    let left: Vec<String> = scratch_left()
        .into_iter()
        .filter(|d| made.contains(d))
        .collect();
    assert!(left.is_empty(), "left in /dev/shm: {left:?}");
}

#[test]
fn a_key_file_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    encrypt(
        dir.path(),
        "app/db.yaml",
        &secret("shop", "db", "missing-file-secret"),
        Some("^(data|stringData)$"),
    );
    let home = tempfile::tempdir().unwrap();
    let run = Gitops::new(["render", "app"])
        .current_dir(dir.path())
        .env("HOME", home.path())
        .env("GITOPS_SOPS", sops())
        .env("SOPS_AGE_KEY_FILE", "/nonexistent/keys.txt")
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("SOPS_AGE_KEY_FILE names /nonexistent/keys.txt, which is not a file"),
        "{}",
        run.stderr
    );
    assert_never_printed(&run, &["missing-file-secret"]);
}

#[test]
fn promote_never_edits_an_encrypted_file() {
    let dir = tempfile::tempdir().unwrap();
    let web = |tag: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/web:{tag}\n")
    };
    write(
        dir.path(),
        "gitops.yaml",
        "targets:\n  - {name: a, path: a}\n  - {name: b, path: b}\n",
    );
    write(dir.path(), "a/web.yaml", &web("2"));
    // Only data and stringData are encrypted: the image stays readable, but the MAC covers it.
    encrypt(
        dir.path(),
        "b/web.yaml",
        &web("1"),
        Some("^(data|stringData)$"),
    );
    let before = std::fs::read_to_string(dir.path().join("b/web.yaml")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = Gitops::new(["promote", "a", "b", "--write", "--force"])
        .current_dir(dir.path())
        .env("HOME", home.path())
        .env("GITOPS_SOPS", sops())
        .env("SOPS_AGE_KEY_FILE", key_file("age-key.txt"))
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("encrypted with SOPS, whose MAC covers this field too"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b/web.yaml")).unwrap(),
        before
    );
}
