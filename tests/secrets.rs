//! Secrets and credentials never leave (SPEC.md, "Secrets never leave the cluster" and Safety):
//! every command, in every output format, with `-v`, over Secrets written as `data` and
//! `stringData`, made by a kustomize secretGenerator and by a Helm chart (from a values file and
//! from `helm.set`), with a bearer token in the kubeconfig, Git tokens in the environment and in
//! the repository's remote URL, and on the error paths (Secrets the API server rejects, a 401,
//! a kubeconfig that is not YAML). Every stdout and stderr is scanned for every value: plain,
//! base64, base64 of base64, and SHA-256.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::cli::{temp_tree, Gitops, Run};
use common::kubectl::{kubectl_ok, TestNamespace};
use common::unique_name;
use gitops::mask::base64;
use serde_json::Value;

/// A value that must never be printed, with a label for the failure message.
struct Forbidden {
    label: String,
    text: String,
}

/// Every form in which `value` must not appear.
fn forms(label: &str, value: &str, out: &mut Vec<Forbidden>) {
    let b64 = base64(value.as_bytes());
    let candidates = [
        ("plain", value.to_owned()),
        ("base64", b64.clone()),
        ("base64 of base64", base64(b64.as_bytes())),
        ("sha256", sha256_hex(value.as_bytes())),
        ("sha256 of base64", sha256_hex(b64.as_bytes())),
    ];
    for (form, text) in candidates {
        out.push(Forbidden {
            label: format!("{label} ({form})"),
            text,
        });
    }
}

/// Git tokens also travel as HTTP basic credentials (`user:token`, base64).
fn git_token_forms(label: &str, token: &str, out: &mut Vec<Forbidden>) {
    forms(label, token, out);
    for user in ["x-access-token", "gitlab-ci-token", "oauth2", "git"] {
        out.push(Forbidden {
            label: format!("{label} (basic auth as {user})"),
            text: base64(format!("{user}:{token}").as_bytes()),
        });
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every run of the test, scanned at the end.
#[derive(Default)]
struct Transcript {
    runs: Vec<(String, Run)>,
}

impl Transcript {
    /// Runs gitops with `-v` and the Git tokens in the environment; checks the exit code.
    #[track_caller]
    fn run(&mut self, dir: &Path, kubeconfig: &Path, args: &[&str], code: i32) -> &Run {
        let mut all = vec!["-v"];
        all.extend_from_slice(args);
        let run = Gitops::new(&all)
            .current_dir(dir)
            .env("KUBECONFIG", kubeconfig)
            .env("GITOPS_GIT_TOKEN", GITOPS_GIT_TOKEN)
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .env("CI_JOB_TOKEN", CI_JOB_TOKEN)
            .env("CI", "true")
            .run();
        run.expect_code(code);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        self.runs.push((all.join(" "), run));
        &self.runs.last().unwrap().1
    }

    /// Fails naming every run and stream that shows any forbidden value.
    #[track_caller]
    fn assert_clean(&self, forbidden: &[Forbidden]) {
        let mut leaks = Vec::new();
        for (command, run) in &self.runs {
            for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                for value in forbidden {
                    if text.contains(&value.text) {
                        leaks.push(format!(
                            "gitops {command}: {stream} shows {}:\n{text}",
                            value.label
                        ));
                    }
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} leak(s) in {} runs:\n\n{}",
            leaks.len(),
            self.runs.len(),
            leaks.join("\n\n")
        );
    }
}

const GITOPS_GIT_TOKEN: &str = "gitops-git-token-ZWQ3MjE0NTk5ODcw";
const GITHUB_TOKEN: &str = "ghp_githubTokenValue4f9a8b7c6d5e4f3a2b1c";
const CI_JOB_TOKEN: &str = "glcbt-ci-job-token-6f1d2c3b4a5e";

/// The values of one version of the repository's Secrets.
struct Values {
    data: String,
    string_data: String,
    generator_literal: String,
    generator_file: String,
    helm_values: String,
    helm_set: String,
    json_list: String,
}

impl Values {
    fn new(version: &str) -> Self {
        let unique = |what: &str| format!("{what}-{version}-{}", unique_name("v"));
        Values {
            data: unique("data-pa55word"),
            string_data: unique("stringdata-t0ken"),
            generator_literal: unique("generator-literal"),
            generator_file: unique("generator-file"),
            helm_values: unique("helm-values-secret"),
            helm_set: unique("helm-set-apikey"),
            json_list: unique("json-list-item"),
        }
    }

    fn all(&self) -> [(&'static str, &str); 7] {
        [
            ("Secret data", &self.data),
            ("Secret stringData", &self.string_data),
            ("secretGenerator literal", &self.generator_literal),
            ("secretGenerator file", &self.generator_file),
            ("helm values file", &self.helm_values),
            ("helm.set", &self.helm_set),
            ("Secret in a JSON List", &self.json_list),
        ]
    }
}

/// Writes the repository's files for one version of the values.
fn write_repo(dir: &Path, namespaces: &[String; 3], values: &Values) {
    let files = [
        (
            "gitops.yaml".to_owned(),
            format!(
                "targets:\n  - name: plain\n    path: plain\n    namespace: {}\n  - name: shop\n    path: shop\n    namespace: {}\n  - name: chart\n    path: chart\n    namespace: {}\n    helm:\n      values: [values-secret.yaml]\n      set: {{auth.apiKey: {}}}\n",
                namespaces[0], namespaces[1], namespaces[2], values.helm_set
            ),
        ),
        (
            "plain/secret.yaml".to_owned(),
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: {}\nstringData:\n  token: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
                base64(values.data.as_bytes()),
                values.string_data
            ),
        ),
        (
            "plain/more.json".to_owned(),
            format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {{\"name\": \"listed\"}}, \"stringData\": {{\"key\": \"{}\"}}}}]}}\n",
                values.json_list
            ),
        ),
        (
            "shop/kustomization.yaml".to_owned(),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- config.yaml\nsecretGenerator:\n- name: shop-credentials\n  literals:\n  - apiKey={}\n  files:\n  - creds.txt\n",
                values.generator_literal
            ),
        ),
        (
            "shop/config.yaml".to_owned(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  color: blue\n"
                .to_owned(),
        ),
        ("shop/creds.txt".to_owned(), values.generator_file.clone()),
        (
            "chart/Chart.yaml".to_owned(),
            "apiVersion: v2\nname: vault-client\nversion: 0.1.0\n".to_owned(),
        ),
        (
            "chart/values.yaml".to_owned(),
            "password: change-me\nauth:\n  apiKey: none\n".to_owned(),
        ),
        (
            "chart/values-secret.yaml".to_owned(),
            format!("password: {}\n", values.helm_values),
        ),
        (
            "chart/templates/secret.yaml".to_owned(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\ndata:\n  password: {{ .Values.password | b64enc }}\nstringData:\n  apiKey: {{ .Values.auth.apiKey | quote }}\n".to_owned(),
        ),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev Example")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev Example")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The bearer token of the test kubeconfig (token auth, see scripts/testenv).
fn kubeconfig_token(kubeconfig: &Path) -> String {
    std::fs::read_to_string(kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .expect("the test kubeconfig uses a bearer token")
        .trim()
        .to_owned()
}

/// The decoded value of `key` of a live Secret.
fn live_secret_value(namespace: &str, name: &str, key: &str) -> String {
    let json: Value = serde_json::from_str(&kubectl_ok(
        &["get", "secret", "-n", namespace, name, "-o", "json"],
        None,
    ))
    .unwrap();
    let encoded = json["data"][key].as_str().unwrap_or_default().to_owned();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap()
}

/// The name of the Secret kustomize generated (it carries a hash suffix).
fn generated_secret(namespace: &str) -> String {
    kubectl_ok(&["get", "secrets", "-n", namespace, "-o", "name"], None)
        .lines()
        .filter_map(|l| l.strip_prefix("secret/"))
        .find(|n| n.starts_with("shop-credentials-"))
        .expect("the generated Secret was applied")
        .to_owned()
}

#[test]
fn no_command_prints_a_secret_value_or_a_credential() {
    let env = common::testenv();
    let kubeconfig = env.kubeconfig.clone();
    let namespaces = [
        TestNamespace::new("secrets-plain"),
        TestNamespace::new("secrets-shop"),
        TestNamespace::new("secrets-chart"),
    ];
    let names = namespaces.each_ref().map(|n| n.name.clone());
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    let first = Values::new("one");
    write_repo(dir, &names, &first);
    // A CI checkout: GitLab puts the job token into the remote URL.
    git(dir, &["init", "-q"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            &format!("https://gitlab-ci-token:{CI_JOB_TOKEN}@gitlab.example.com/team/app.git"),
        ],
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "Add the apps"]);

    let mut t = Transcript::default();
    t.run(dir, &kubeconfig, &["version"], 0);
    t.run(dir, &kubeconfig, &["targets"], 0);
    t.run(dir, &kubeconfig, &["targets", "--json"], 0);
    t.run(dir, &kubeconfig, &["render"], 0);
    t.run(dir, &kubeconfig, &["render", "-o", "json"], 0);
    // The values really flow through gitops: --show-secrets prints them, to stdout only.
    let shown = t.run(dir, &kubeconfig, &["render", "--show-secrets"], 0);
    for (what, value) in first.all() {
        let in_output = match what {
            "Secret stringData" | "helm.set" | "Secret in a JSON List" => value.to_owned(),
            _ => base64(value.as_bytes()),
        };
        assert!(
            shown.stdout.contains(&in_output),
            "--show-secrets shows the {what}:\n{}",
            shown.stdout
        );
    }
    let revealing = t.runs.pop().unwrap().1;
    for format in ["text", "json", "markdown"] {
        t.run(dir, &kubeconfig, &["diff", "-o", format], 2);
    }
    t.run(dir, &kubeconfig, &["apply", "--dry-run"], 0);
    t.run(dir, &kubeconfig, &["apply", "--dry-run", "-o", "json"], 0);
    t.run(dir, &kubeconfig, &["apply"], 0);
    assert_eq!(live_secret_value(&names[0], "db", "password"), first.data);
    assert_eq!(
        live_secret_value(&names[2], "chart-auth", "apiKey"),
        first.helm_set
    );

    // Every value changes: updates are shown as <hidden: changed>.
    let second = Values::new("two");
    write_repo(dir, &names, &second);
    git(dir, &["commit", "-q", "-am", "Rotate the credentials"]);
    for format in ["text", "json", "markdown"] {
        let run = t.run(dir, &kubeconfig, &["diff", "-o", format], 2);
        assert!(
            run.stdout.contains("<hidden: changed>"),
            "{format}:\n{}",
            run.stdout
        );
    }
    t.run(dir, &kubeconfig, &["apply", "-o", "json"], 0);
    t.run(dir, &kubeconfig, &["diff"], 0);
    for format in ["text", "json", "markdown"] {
        t.run(dir, &kubeconfig, &["status", "-o", format], 0);
        t.run(dir, &kubeconfig, &["history", "-o", format], 0);
    }
    assert_eq!(
        live_secret_value(&names[0], "db", "token"),
        second.string_data
    );
    assert_eq!(
        live_secret_value(&names[0], "listed", "key"),
        second.json_list
    );
    let generated = generated_secret(&names[1]);
    assert_eq!(
        live_secret_value(&names[1], &generated, "creds.txt"),
        second.generator_file
    );
    assert_eq!(
        live_secret_value(&names[2], "chart-auth", "password"),
        second.helm_values
    );

    let token = kubeconfig_token(&kubeconfig);
    let mut forbidden = Vec::new();
    for values in [&first, &second] {
        for (label, value) in values.all() {
            forms(label, value, &mut forbidden);
        }
    }
    forms("kubeconfig bearer token", &token, &mut forbidden);
    git_token_forms("GITOPS_GIT_TOKEN", GITOPS_GIT_TOKEN, &mut forbidden);
    git_token_forms("GITHUB_TOKEN", GITHUB_TOKEN, &mut forbidden);
    git_token_forms("CI_JOB_TOKEN", CI_JOB_TOKEN, &mut forbidden);
    t.assert_clean(&forbidden);
    // --show-secrets prints the values to stdout only.
    let stderr_only = Transcript {
        runs: vec![(
            "render --show-secrets (stderr)".to_owned(),
            Run {
                code: revealing.code,
                stdout: String::new(),
                stderr: revealing.stderr,
            },
        )],
    };
    stderr_only.assert_clean(&forbidden);
}

/// Every `token:` of a kubeconfig (the admin's and the unprivileged user's).
fn all_kubeconfig_tokens(kubeconfig: &Path) -> Vec<String> {
    std::fs::read_to_string(kubeconfig)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("token:"))
        .map(|t| t.trim().to_owned())
        .collect()
}

#[test]
fn error_paths_print_no_secret_value_or_credential() {
    let env = common::testenv();
    let kubeconfig = env.kubeconfig.clone();
    let ns = TestNamespace::new("secrets-errors");
    let value = |what: &str| format!("{what}-{}", unique_name("v"));
    let (not_base64, nested, immutable_old, immutable_new) = (
        value("not base64!"),
        value("nested-value"),
        value("immutable-old"),
        value("immutable-new"),
    );
    let (duplicate_first, duplicate_second, set_value) = (
        value("duplicate-first"),
        value("duplicate-second"),
        value("set-apikey"),
    );
    let number = "73910428856021";
    let mut t = Transcript::default();
    let failing = |t: &mut Transcript, dir: &Path, args: &[&str]| {
        let run = t.run(dir, &kubeconfig, args, 1);
        assert!(!run.stderr.is_empty(), "{args:?}: an error is printed");
    };

    // Secrets the API server rejects: data that is not base64, stringData that is not strings.
    let rejected = temp_tree(&[(
        "secrets.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: not-base64}}\ndata:\n  key: {not_base64:?}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: nested}}\nstringData:\n  key: {{inner: {nested}}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: number}}\nstringData:\n  pin: {number}\n"
        ),
    )]);
    let at = ["--name", "rejected", "-n", &ns.name];
    for command in [
        &["diff", "."][..],
        &["apply", ".", "--dry-run"],
        &["apply", "."],
    ] {
        let args: Vec<&str> = command.iter().chain(&at).copied().collect();
        failing(&mut t, rejected.path(), &args);
        let run = &t.runs.last().unwrap().1;
        assert!(
            run.stderr.contains("rejected the Secret"),
            "{args:?}: {}",
            run.stderr
        );
    }

    // An immutable Secret whose value changes: the server refuses the update.
    let immutable = |v: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: frozen}}\nimmutable: true\nstringData:\n  key: {v}\n")
    };
    let repo = temp_tree(&[("secret.yaml", &immutable(&immutable_old))]);
    let at = ["--name", "frozen", "-n", &ns.name];
    let args: Vec<&str> = ["apply", "."].iter().chain(&at).copied().collect();
    t.run(repo.path(), &kubeconfig, &args, 0);
    std::fs::write(repo.path().join("secret.yaml"), immutable(&immutable_new)).unwrap();
    for command in [&["diff", "."][..], &["apply", "."]] {
        let args: Vec<&str> = command.iter().chain(&at).copied().collect();
        failing(&mut t, repo.path(), &args);
    }

    // A YAML error inside a Secret names the key, never the values.
    let duplicate = temp_tree(&[(
        "secret.yaml",
        &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: dup}}\nstringData:\n  password: {duplicate_first}\n  password: {duplicate_second}\n"),
    )]);
    failing(&mut t, duplicate.path(), &["render", "."]);
    failing(&mut t, duplicate.path(), &["apply", ".", "-n", &ns.name]);

    // A chart that fails, rendered with a helm.set value.
    let chart = temp_tree(&[
        (
            "gitops.yaml",
            &format!("targets:\n  - name: broken\n    path: chart\n    namespace: {}\n    helm:\n      set: {{auth.apiKey: {set_value}}}\n", ns.name),
        ),
        ("chart/Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n"),
        (
            "chart/templates/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: auth\nstringData:\n  apiKey: {{ .Values.auth.apiKey }}\n  other: {{ required \"other is required\" .Values.other }}\n",
        ),
    ]);
    failing(&mut t, chart.path(), &["render", "--config", "gitops.yaml"]);
    let run = &t.runs.last().unwrap().1;
    assert!(
        run.stderr.contains("--set auth.apiKey=<hidden>")
            && run.stderr.contains("other is required"),
        "{}",
        run.stderr
    );
    failing(&mut t, chart.path(), &["apply", "--config", "gitops.yaml"]);

    // Credentials: a wrong token (401), a kubeconfig that is not YAML, a user without rights.
    let original = std::fs::read_to_string(&kubeconfig).unwrap();
    let tokens = all_kubeconfig_tokens(&kubeconfig);
    let wrong_token = value("wrong-token");
    let scratch = tempfile::tempdir().unwrap();
    let wrong = scratch.path().join("wrong.kubeconfig");
    std::fs::write(&wrong, original.replace(&tokens[0], &wrong_token)).unwrap();
    let broken = scratch.path().join("broken.kubeconfig");
    // A YAML error right before the users: parsers like to quote the lines around an error.
    std::fs::write(&broken, original.replacen("users:", "users: [\n", 1)).unwrap();
    let repo = temp_tree(&[(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n",
    )]);
    for config in [&wrong, &broken] {
        let config = config.to_str().unwrap();
        let at = ["--kubeconfig", config, "--name", "creds", "-n", &ns.name];
        for command in [
            &["diff", "."][..],
            &["apply", "."],
            &["apply", ".", "--dry-run"],
            &["status"],
            &["history"],
        ] {
            let args: Vec<&str> = command.iter().chain(&at).copied().collect();
            failing(&mut t, repo.path(), &args);
        }
    }
    assert!(
        t.runs
            .iter()
            .any(|(_, r)| r.stderr.contains("401 Unauthorized")),
        "the wrong token was tried"
    );
    if env.unprivileged_context.is_some() {
        let at = [
            "--context",
            "unprivileged",
            "--name",
            "creds",
            "-n",
            &ns.name,
        ];
        for command in [&["diff", "."][..], &["apply", "."], &["status"]] {
            let args: Vec<&str> = command.iter().chain(&at).copied().collect();
            failing(&mut t, repo.path(), &args);
        }
    }

    let mut forbidden = Vec::new();
    for (label, value) in [
        ("data that is not base64", not_base64.as_str()),
        ("nested stringData", &nested),
        ("number in stringData", number),
        ("immutable Secret, old value", &immutable_old),
        ("immutable Secret, new value", &immutable_new),
        ("duplicate key, first value", &duplicate_first),
        ("duplicate key, second value", &duplicate_second),
        ("helm.set of a failing chart", &set_value),
        ("wrong kubeconfig token", &wrong_token),
    ] {
        forms(label, value, &mut forbidden);
    }
    for (i, token) in tokens.iter().enumerate() {
        forms(
            &format!("kubeconfig token {}", i + 1),
            token,
            &mut forbidden,
        );
    }
    git_token_forms("GITOPS_GIT_TOKEN", GITOPS_GIT_TOKEN, &mut forbidden);
    git_token_forms("GITHUB_TOKEN", GITHUB_TOKEN, &mut forbidden);
    git_token_forms("CI_JOB_TOKEN", CI_JOB_TOKEN, &mut forbidden);
    t.assert_clean(&forbidden);
}
