//! The CI templates: valid for GitHub and GitLab (their own schemas, actionlint), and their
//! script steps run as a CI runner would (the CI's variables set) against the real control
//! plane: the plan in the job summary and one updated PR/MR comment, apply, drift → exit 2.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::cli::{repo_root, Run};
use common::kubectl::{kubectl_ok, TestNamespace};
use common::testenv;
use serde_json::Value;

#[test]
fn the_templates_pass_github_and_gitlab_schemas_and_actionlint() {
    let run = run_command(Command::new(repo_root().join("scripts/ci-lint")));
    run.expect_code(0);
    // The same check fails on a broken workflow: it is a real check.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("workflows/broken.yml");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(
        &broken,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nothing }}\n      - uses: actions/checkout@v5\n        with: {fetch_depth: 0}\n        environment: prod\n",
    )
    .unwrap();
    let mut lint = Command::new(repo_root().join("scripts/ci-lint"));
    lint.arg(&broken);
    let run = run_command(lint);
    assert_ne!(run.code, 0, "a broken workflow passed:\n{}", run.stderr);
    // The image is linted too (hadolint): an untagged base image fails.
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM debian\nRUN cd /tmp && echo hi\n").unwrap();
    let mut lint = Command::new(repo_root().join("scripts/ci-lint"));
    lint.arg(&dockerfile);
    let run = run_command(lint);
    assert_ne!(run.code, 0, "a broken Dockerfile passed:\n{}", run.stderr);
    assert!(run.stderr.contains("DL3006"), "{}", run.stderr);
}

fn run_command(mut command: Command) -> Run {
    let output = command.output().expect("the command runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The fake comment API of GitHub and GitLab (tests/support/fake_forge.py).
struct FakeForge {
    port: u16,
    child: Child,
}

impl FakeForge {
    fn start(token: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/support/fake_forge.py"))
            .arg(token)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts the fake forge");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        FakeForge {
            port: line.trim().parse().expect("a port"),
            child,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every comment, and how many requests came without the token.
    fn state(&self) -> Value {
        let output = Command::new("curl")
            .args(["-fsS", &format!("{}/__comments", self.url())])
            .output()
            .expect("curl runs");
        serde_json::from_slice(&output.stdout).expect("JSON from the fake forge")
    }
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config repository with one target `web`: a Namespace, a ConfigMap and a Deployment of
/// 0 replicas (healthy without a kubelet).
fn config_repo(ns: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "gitops.yaml",
        &format!(
            "targets:\n  - name: web\n    path: apps/web\n    namespace: {ns}\n    timeout: 60s\n"
        ),
    );
    write(
        "apps/web/namespace.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    write(
        "apps/web/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n",
    );
    write(
        "apps/web/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 0\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    dir
}

/// One CI step: `gitops-ci.sh MODE` in `repo` with the CI's variables.
fn ci_step(repo: &Path, mode: &str, env: &[(&str, String)]) -> Run {
    let mut command = Command::new("bash");
    command
        .arg(repo_root().join("ci-templates/scripts/gitops-ci.sh"))
        .arg(mode)
        .current_dir(repo)
        .env("GITOPS_BIN", env!("CARGO_BIN_EXE_gitops"))
        // The kubeconfig comes from the secret store as content, never as a file.
        .env_remove("KUBECONFIG")
        .env(
            "GITOPS_KUBECONFIG_DATA",
            std::fs::read_to_string(&testenv().kubeconfig).unwrap(),
        );
    for key in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_TOKEN",
        "CI_JOB_TOKEN",
    ] {
        command.env_remove(key);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    run_command(command)
}

/// The kubeconfig's token: it must never appear in any output.
fn kubeconfig_token() -> String {
    let text = std::fs::read_to_string(&testenv().kubeconfig).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .expect("token auth")
        .trim()
        .to_owned()
}

fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn github_steps_plan_comment_once_apply_and_detect_drift() {
    let cleanup = TestNamespace::not_created("ci-github");
    let ns = cleanup.name.clone();
    let repo = config_repo(&ns);
    let runner = tempfile::tempdir().unwrap();
    let (summary, outputs) = (
        runner.path().join("summary.md"),
        runner.path().join("output"),
    );
    let token = "ghs_fake0token0for0tests";
    let forge = FakeForge::start(token);
    let env = vec![
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("GITHUB_OUTPUT", outputs.display().to_string()),
        ("GITHUB_TOKEN", token.to_owned()),
        ("GITHUB_API_URL", forge.url()),
        ("GITHUB_REPOSITORY", "org/config".to_owned()),
        ("GITOPS_PR_NUMBER", "7".to_owned()),
        ("GITOPS_TARGET", "web".to_owned()),
        ("RUNNER_TEMP", runner.path().display().to_string()),
    ];
    let secrets = [token, &kubeconfig_token()].map(str::to_owned);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();

    // Pull request: changes are not a failure; the plan goes to the summary and one comment.
    let diff = ci_step(repo.path(), "diff", &env);
    diff.expect_code(0);
    assert_no_secret(&diff, &secrets);
    assert!(
        read(&outputs).contains("exit-code=2\nchanges=true\n"),
        "{}",
        read(&outputs)
    );
    let plan = read(&summary);
    assert!(
        plan.contains("### gitops plan") && plan.contains("| web |") && plan.contains("ConfigMap"),
        "{plan}"
    );
    let state = forge.state();
    let comments = state["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{state}");
    assert_eq!(comments[0]["thread"], "7");
    assert_eq!(comments[0]["written_by"], "POST");
    assert!(comments[0]["body"]
        .as_str()
        .unwrap()
        .contains("<!-- gitops-plan:web -->"));
    // The next push updates that comment instead of adding one.
    ci_step(repo.path(), "diff", &env).expect_code(0);
    let state = forge.state();
    assert_eq!(state["comments"].as_array().unwrap().len(), 1, "{state}");
    assert_eq!(state["comments"][0]["written_by"], "PATCH");
    assert_eq!(state["unauthorized"], 0);

    // Merge: apply (and wait) into the cluster.
    std::fs::write(&outputs, "").unwrap();
    let apply = ci_step(repo.path(), "apply", &env);
    apply.expect_code(0);
    assert_no_secret(&apply, &secrets);
    assert!(read(&outputs).contains("exit-code=0"));
    let text = read(&summary);
    assert!(text.contains("applied and healthy (web)"), "{text}");
    assert!(
        text.contains("| KIND | NAMESPACE | NAME | HEALTH |")
            && text.contains(&format!("| ConfigMap | {ns} | settings | Healthy |")),
        "the job summary shows what is deployed:\n{text}"
    );
    assert_eq!(
        kubectl_ok(
            &[
                "-n",
                &ns,
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.data.LOG_LEVEL}"
            ],
            None
        ),
        "info"
    );

    // Schedule: no drift, then a hand-made change is drift: exit 2, in the summary.
    ci_step(repo.path(), "drift", &env).expect_code(0);
    assert!(read(&summary).contains("No drift"));
    kubectl_ok(
        &[
            "-n",
            &ns,
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"LOG_LEVEL":"debug"}}"#,
        ],
        None,
    );
    std::fs::write(&outputs, "").unwrap();
    let drift = ci_step(repo.path(), "drift", &env);
    drift.expect_code(2);
    let text = read(&summary);
    assert!(
        text.contains("### Drift: the cluster differs from Git") && text.contains("settings"),
        "{text}"
    );
    assert!(read(&outputs).contains("exit-code=2\nchanges=true"));

    // The kubeconfig file of each step is gone after it.
    let left: Vec<PathBuf> = std::fs::read_dir(runner.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("gitops-kubeconfig"))
        .collect();
    assert!(left.is_empty(), "kubeconfig files left: {left:?}");
}

#[test]
fn gitlab_steps_write_the_artifact_and_one_merge_request_note() {
    let cleanup = TestNamespace::not_created("ci-gitlab");
    let ns = cleanup.name.clone();
    let repo = config_repo(&ns);
    let token = "glpat-fake0token0for0tests";
    let forge = FakeForge::start(token);
    let mut env = vec![
        ("GITLAB_CI", "true".to_owned()),
        ("CI_API_V4_URL", format!("{}/api/v4", forge.url())),
        ("CI_PROJECT_ID", "42".to_owned()),
        ("CI_MERGE_REQUEST_IID", "5".to_owned()),
        ("GITOPS_GITLAB_TOKEN", token.to_owned()),
        ("GITOPS_TARGET", "web".to_owned()),
        ("GITOPS_OUTPUT_DIR", "gitops-out".to_owned()),
    ];
    let diff = ci_step(repo.path(), "diff", &env);
    diff.expect_code(0);
    assert_no_secret(&diff, &[token, &kubeconfig_token()]);
    let artifact = read(&repo.path().join("gitops-out/gitops-plan.md"));
    assert!(
        artifact.contains("### gitops plan") && artifact.contains("Deployment"),
        "{artifact}"
    );
    ci_step(repo.path(), "diff", &env).expect_code(0);
    let state = forge.state();
    let notes = state["comments"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "one note, updated: {state}");
    assert_eq!(notes[0]["thread"], "5");
    assert_eq!(notes[0]["written_by"], "PUT");

    // Without a token with the api scope: the plan stays in the artifact, the job passes.
    env.retain(|(k, _)| *k != "GITOPS_GITLAB_TOKEN");
    let quiet = ci_step(repo.path(), "diff", &env);
    quiet.expect_code(0);
    assert!(
        quiet.stderr.contains("plan in the artifact only"),
        "{}",
        quiet.stderr
    );

    ci_step(repo.path(), "apply", &env).expect_code(0);
    ci_step(repo.path(), "drift", &env).expect_code(0);

    // An error (a manifest without a name) fails the merge-request job: exit 1, not 2.
    std::fs::write(
        repo.path().join("apps/web/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
    )
    .unwrap();
    let broken = ci_step(repo.path(), "diff", &env);
    broken.expect_code(1);
    assert!(
        broken.stderr.contains("metadata.name is missing"),
        "{}",
        broken.stderr
    );
}

#[test]
fn the_targets_step_gives_a_matrix() {
    let repo = config_repo("ci-targets-unused");
    let outputs = repo.path().join("out");
    let run = ci_step(
        repo.path(),
        "targets",
        &[("GITHUB_OUTPUT", outputs.display().to_string())],
    );
    run.expect_code(0);
    assert_eq!(read(&outputs), "targets=[\"web\"]\n");
    let usage = ci_step(repo.path(), "deploy", &[]);
    usage.expect_code(64);
}

#[test]
fn drift_alerts_once_and_the_gate_holds_back_destructive_applies() {
    let cleanup = TestNamespace::not_created("ci-gate");
    let ns = cleanup.name.clone();
    let repo = config_repo(&ns);
    let runner = tempfile::tempdir().unwrap();
    let (summary, outputs) = (
        runner.path().join("summary.md"),
        runner.path().join("output"),
    );
    let receiver = common::webhook::Receiver::start(200);
    let env = vec![
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("GITHUB_OUTPUT", outputs.display().to_string()),
        ("GITOPS_TARGET", "web".to_owned()),
        ("GITOPS_NOTIFY_URL", receiver.url()),
        ("RUNNER_TEMP", runner.path().display().to_string()),
    ];
    ci_step(repo.path(), "apply", &env).expect_code(0);

    // Merged, not applied yet: not drift, no alert.
    let settings = repo.path().join("apps/web/settings.yaml");
    std::fs::write(&settings, read(&settings).replace("info", "warn")).unwrap();
    ci_step(repo.path(), "drift", &env).expect_code(0);
    assert!(receiver.bodies().is_empty());

    // A hand edit is drift: the job fails, the summary names the cause, one alert over two runs.
    kubectl_ok(
        &[
            "-n",
            &ns,
            "patch",
            "deployment",
            "web",
            "--field-manager=kubectl-edit",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#,
        ],
        None,
    );
    for _ in 0..2 {
        let drift = ci_step(repo.path(), "drift", &env);
        drift.expect_code(2);
        assert_no_secret(&drift, &[common::webhook::SECRET_PATH]);
    }
    let text = read(&summary);
    assert!(
        text.contains("drift: /spec/template/spec/containers/0/image by kubectl-edit"),
        "{text}"
    );
    assert_eq!(receiver.bodies().len(), 1, "{:#?}", receiver.bodies());
    let last_drift = text.rsplit("### Drift").next().unwrap_or_default();
    assert!(
        !last_drift.contains("settings"),
        "the pending change is not in the drift summary:\n{last_drift}"
    );

    // Git drops the ConfigMap: the gate lists the target, and the unapproved apply refuses.
    std::fs::remove_file(&settings).unwrap();
    std::fs::write(&outputs, "").unwrap();
    ci_step(repo.path(), "gate", &env).expect_code(0);
    let out = read(&outputs);
    assert!(
        out.contains("targets=[\"web\"]\n") && out.contains("destructive=[\"web\"]\n"),
        "{out}"
    );
    std::fs::write(&outputs, "").unwrap();
    let mut refused_env = env.clone();
    refused_env.push(("GITOPS_ARGS", "--fail-on-destructive".to_owned()));
    ci_step(repo.path(), "apply", &refused_env).expect_code(4);
    assert!(read(&outputs).contains("exit-code=4"));
    assert!(
        read(&summary).contains("apply refused"),
        "{}",
        read(&summary)
    );
    kubectl_ok(&["-n", &ns, "get", "configmap", "settings"], None);
    // The approved apply prunes it; then nothing is destructive any more.
    ci_step(repo.path(), "apply", &env).expect_code(0);
    std::fs::write(&outputs, "").unwrap();
    ci_step(repo.path(), "gate", &env).expect_code(0);
    assert!(
        read(&outputs).contains("destructive=[]\n"),
        "{}",
        read(&outputs)
    );
}

/// A repository with two plain environments (staging runs web 1.5.0, production 1.4.2) and a
/// bare `origin` that accepts push options, as GitLab does.
fn promote_repo() -> (common::git::Repo, tempfile::TempDir) {
    let repo = common::git::Repo::init();
    let web = |tag: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        # The app; promote edits this line.\n        - name: web\n          image: \"registry.example.com/web:{tag}\"\n")
    };
    repo.commit(
        &[
            ("gitops.yaml", "targets:\n  - {name: staging, path: envs/staging, namespace: web-staging}\n  - {name: production, path: envs/production, namespace: web-production}\n"),
            ("envs/staging/web.yaml", &web("1.5.0")),
            ("envs/production/web.yaml", &web("1.4.2")),
        ],
        "Dev One",
        "Two environments",
    );
    let origin = tempfile::tempdir().unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(origin.path(), &["init", "-q", "--bare", "-b", "main"]);
    git(
        origin.path(),
        &["config", "receive.advertisePushOptions", "true"],
    );
    repo.git(&[
        "remote",
        "add",
        "origin",
        &origin.path().display().to_string(),
    ]);
    repo.git(&["push", "-q", "origin", "main"]);
    (repo, origin)
}

fn origin_branches(origin: &Path) -> String {
    let output = Command::new("git")
        .args(["branch", "--list", "promote/*", "--format=%(refname:short)"])
        .current_dir(origin)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn the_promote_step_pushes_a_branch_and_opens_a_pull_or_merge_request() {
    // GitLab: the push options open the merge request.
    let (repo, origin) = promote_repo();
    let head = repo.head();
    let promote_env = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("GITOPS_PROMOTE_FROM", "staging".to_owned()),
            ("GITOPS_PROMOTE_TO", "production".to_owned()),
        ];
        env.extend(extra);
        env
    };
    let run = ci_step(
        repo.path(),
        "promote",
        &promote_env(vec![
            ("GITLAB_CI", "true".into()),
            ("CI_DEFAULT_BRANCH", "main".into()),
        ]),
    );
    run.expect_code(0);
    let branch = format!("promote/staging-to-production-{}", &head[..7]);
    assert!(
        run.stdout.contains("promoted=true") && run.stdout.contains(&format!("branch={branch}")),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(origin_branches(origin.path()), branch);
    let pushed = Command::new("git")
        .args(["show", &format!("{branch}:envs/production/web.yaml")])
        .current_dir(origin.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&pushed.stdout)
        .contains("image: \"registry.example.com/web:1.5.0\""));
    // Run again from the promoted branch: nothing left to promote, nothing pushed.
    let again = ci_step(
        repo.path(),
        "promote",
        &promote_env(vec![("GITLAB_CI", "true".into())]),
    );
    again.expect_code(0);
    assert!(again.stdout.contains("promoted=false"), "{}", again.stdout);

    // GitHub: pushed, then `gh pr create` (a stand-in records its arguments).
    let (repo, origin) = promote_repo();
    let bin = tempfile::tempdir().unwrap();
    let gh = bin.path().join("gh");
    let calls = bin.path().join("calls");
    std::fs::write(
        &gh,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", calls.display()),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&gh).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&gh, permissions).unwrap();
    let summary = bin.path().join("summary.md");
    let run = ci_step(
        repo.path(),
        "promote",
        &promote_env(vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_REF_NAME", "main".into()),
            ("GITOPS_GH", gh.display().to_string()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ]),
    );
    run.expect_code(0);
    assert!(origin_branches(origin.path()).starts_with("promote/staging-to-production-"));
    let args = read(&calls);
    assert!(
        args.starts_with("pr\ncreate\n--base\nmain\n--head\npromote/staging-to-production-")
            && args
                .contains("--title\nPromote staging to production\n--body\nweb: 1.4.2 -> 1.5.0\n"),
        "{args}"
    );
    assert!(
        read(&summary).contains("- web: 1.4.2 -> 1.5.0"),
        "{}",
        read(&summary)
    );
}

/// A loopback HTTP server over `root` (python3's http.server), stopped on drop.
struct FileServer {
    port: u16,
    child: Child,
}

impl FileServer {
    fn start(root: &Path) -> Self {
        let script = "import functools, http.server, sys\nhandler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\nserver = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)\nprint(server.server_address[1], flush=True)\nserver.serve_forever()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves files");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        FileServer {
            port: line.trim().parse().expect("a port"),
            child,
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_install_step_verifies_the_release_checksum() {
    let releases = tempfile::tempdir().unwrap();
    let version_dir = releases.path().join("v9.8.7");
    std::fs::create_dir_all(&version_dir).unwrap();
    // A release tarball for this machine holding a stand-in binary.
    let content = tempfile::tempdir().unwrap();
    std::fs::write(
        content.path().join("gitops"),
        "#!/bin/sh\necho gitops 9.8.7\n",
    )
    .unwrap();
    let target = match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    };
    let archive = format!("gitops-9.8.7-{target}.tar.gz");
    let status = Command::new("tar")
        .args(["-C", &content.path().display().to_string(), "-czf"])
        .arg(version_dir.join(&archive))
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let sum = Command::new("sha256sum")
        .arg(version_dir.join(&archive))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let server = FileServer::start(releases.path());
    let install = |dir: &Path| {
        let mut command = Command::new("bash");
        command
            .arg(repo_root().join("ci-templates/scripts/install-gitops.sh"))
            .args(["9.8.7", &dir.display().to_string()])
            .env(
                "GITOPS_RELEASE_URL",
                format!("http://127.0.0.1:{}", server.port),
            );
        run_command(command)
    };

    std::fs::write(
        version_dir.join("SHA256SUMS"),
        format!("{sum}  {archive}\n"),
    )
    .unwrap();
    let good = tempfile::tempdir().unwrap();
    let run = install(good.path());
    run.expect_code(0);
    assert!(
        run.stderr.contains("verified and installed"),
        "{}",
        run.stderr
    );
    let installed = Command::new(good.path().join("bin/gitops"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&installed.stdout), "gitops 9.8.7\n");

    // A tarball that does not match its checksum is never installed.
    let wrong: String = sum.chars().rev().collect();
    std::fs::write(
        version_dir.join("SHA256SUMS"),
        format!("{wrong}  {archive}\n"),
    )
    .unwrap();
    let bad = tempfile::tempdir().unwrap();
    let run = install(bad.path());
    run.expect_code(1);
    assert!(
        run.stderr.contains("does not match its checksum"),
        "{}",
        run.stderr
    );
    assert!(!bad.path().join("bin/gitops").exists());
}
