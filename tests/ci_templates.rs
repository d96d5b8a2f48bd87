//! The CI templates: valid for their CI systems (GitHub, GitLab, Azure Pipelines, CircleCI,
//! Bitbucket Pipelines and Travis CI schemas, actionlint, a structural check of the Jenkinsfile),
//! and their script steps run as a CI runner would (the CI's variables set) against the real
//! control plane: the plan in the job summary and one updated PR/MR comment, apply, drift → exit
//! 2; Bitbucket's steps end to end, from the pinned release's install to the reviewed destructive
//! apply.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::cli::{repo_root, Run};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::testenv;
use serde_json::Value;

/// The templates beside GitHub's and GitLab's, each under the name its CI system reads.
const AZURE: &str = "ci-templates/azure/azure-pipelines.yml";
const CIRCLECI: &str = "ci-templates/circleci/config.yml";
const BITBUCKET: &str = "ci-templates/bitbucket/bitbucket-pipelines.yml";
const JENKINS: &str = "ci-templates/jenkins/Jenkinsfile";
const TRAVIS: &str = "ci-templates/travis/.travis.yml";
const GITLAB: &str = "ci-templates/gitlab/gitops.gitlab-ci.yml";

fn template(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap()
}

fn yaml(path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&template(path)).unwrap()
}

/// Every `*.yml`/`*.yaml` file under `dir`, recursively (dotfiles too).
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_templates_pass_their_ci_systems_schemas_and_linters() {
    let run = run_command(Command::new(repo_root().join("scripts/ci-lint")));
    run.expect_code(0);
    // Without arguments it checks every template: one check-jsonschema pass per YAML file
    // (Azure, CircleCI, Bitbucket, Travis and the dotfile .travis.yml included) and the
    // Jenkinsfile's structure.
    let yaml_count = yaml_files(&repo_root().join("ci-templates")).len()
        + yaml_files(&repo_root().join(".github/workflows")).len();
    assert_eq!(
        run.stderr.matches("ok -- validation done").count(),
        yaml_count,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("ok -- {JENKINS}: a declarative pipeline")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("skipped"), "{}", run.stderr);
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

    // A copy of each new template with one mistake a user could make fails, under the file
    // name its CI system reads: each system's own schema (and the Jenkinsfile's structure) is
    // really checked.
    let jenkinsfile = template(JENKINS);
    let unclosed = jenkinsfile.trim_end().strip_suffix('}').unwrap().to_owned();
    let cases: [(&str, &str, String, &str); 5] = [
        (
            AZURE,
            "azure-pipelines.yml",
            template(AZURE).replacen(
                "    displayName: gitops plan\n",
                "    displayNme: gitops plan\n",
                1,
            ),
            "displayNme",
        ),
        (
            CIRCLECI,
            ".circleci/config.yml",
            template(CIRCLECI).replacen("    executor: gitops\n", "    exector: gitops\n", 1),
            "exector",
        ),
        (
            BITBUCKET,
            "bitbucket-pipelines.yml",
            template(BITBUCKET).replacen(
                "image: atlassian/default-image:4",
                "image: [atlassian/default-image:4]",
                1,
            ),
            "default-image",
        ),
        (
            TRAVIS,
            ".travis.yml",
            template(TRAVIS).replacen("\nos: linux\n", "\nos: plan9\n", 1),
            "plan9",
        ),
        (JENKINS, "Jenkinsfile", unclosed, "is not closed"),
    ];
    for (original, name, text, message) in cases {
        assert_ne!(
            text,
            template(original),
            "{original}: the mistake was not made"
        );
        let copy = dir.path().join("broken").join(name);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::write(&copy, text).unwrap();
        let mut lint = Command::new(repo_root().join("scripts/ci-lint"));
        lint.arg(&copy);
        let run = run_command(lint);
        assert_eq!(run.code, 1, "a broken {name} passed:\n{}", run.stderr);
        assert!(run.stderr.contains(message), "{name}:\n{}", run.stderr);
    }
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
    config_repo_for("web", ns)
}

/// The same with the target named `target` (its files stay in apps/web).
fn config_repo_for(target: &str, ns: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "gitops.yaml",
        &format!(
            "targets:\n  - name: {target}\n    path: apps/web\n    namespace: {ns}\n    timeout: 60s\n"
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

/// A release `version` under `root` as install-gitops.sh downloads it: the tarball for this
/// machine (holding `gitops`, the script `binary`) in `v<version>/`; returns the tarball's
/// name and its SHA-256 (SHA256SUMS is left to the caller).
fn write_release(root: &Path, version: &str, binary: &str) -> (String, String) {
    let version_dir = root.join(format!("v{version}"));
    std::fs::create_dir_all(&version_dir).unwrap();
    let content = tempfile::tempdir().unwrap();
    std::fs::write(content.path().join("gitops"), binary).unwrap();
    let mut permissions = std::fs::metadata(content.path().join("gitops"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(content.path().join("gitops"), permissions).unwrap();
    let target = match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    };
    let archive = format!("gitops-{version}-{target}.tar.gz");
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
    (archive, sum)
}

#[test]
fn the_install_step_verifies_the_release_checksum() {
    let releases = tempfile::tempdir().unwrap();
    let version_dir = releases.path().join("v9.8.7");
    // A release tarball for this machine holding a stand-in binary.
    let (archive, sum) = write_release(releases.path(), "9.8.7", "#!/bin/sh\necho gitops 9.8.7\n");
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

/// How each template pins gitops, runs a step of gitops-ci.sh and takes its kubeconfig.
struct TemplateShape {
    path: &'static str,
    /// The line that pins the release ({v}: the version).
    pin: &'static str,
    /// How a step of gitops-ci.sh is started ({mode}: diff, apply, drift).
    step: &'static str,
    /// Where the kubeconfig comes from (the CI's secret store).
    secret: &'static str,
}

const SHAPES: [TemplateShape; 6] = [
    TemplateShape {
        path: GITLAB,
        pin: "GITOPS_VERSION: \"{v}\"",
        step: "bash \"$GITOPS_CI_SCRIPT\" {mode}",
        secret: "GITOPS_KUBECONFIG_DATA=\"${KUBECONFIG_DATA:-}\"",
    },
    TemplateShape {
        path: AZURE,
        pin: "GITOPS_VERSION: {v}",
        step: "bash \"$GITOPS_CI_SCRIPT\" {mode}",
        secret: "KUBECONFIG: $(kubeconfig.secureFilePath)",
    },
    TemplateShape {
        path: CIRCLECI,
        pin: "default: \"{v}\"",
        step: "mode: {mode}",
        secret: "\"${KUBECONFIG_B64:-}\" | base64 -d)",
    },
    TemplateShape {
        path: BITBUCKET,
        pin: "export GITOPS_VERSION={v}",
        step: "bash \"$GITOPS_CI_SCRIPT\" {mode}",
        secret: "\"${KUBECONFIG_B64:-}\" | base64 -d)",
    },
    TemplateShape {
        path: JENKINS,
        pin: "GITOPS_VERSION = '{v}'",
        step: "gitopsCi('{mode}')",
        secret: "file(credentialsId: 'gitops-kubeconfig', variable: 'KUBECONFIG')",
    },
    TemplateShape {
        path: TRAVIS,
        pin: "- GITOPS_VERSION={v}",
        step: "GITOPS_MODE={mode}",
        secret: "\"${KUBECONFIG_B64:-}\" | base64 -d)",
    },
];

#[test]
fn every_template_installs_the_pinned_release_and_runs_gitops_ci_sh() {
    for shape in SHAPES {
        let text = template(shape.path);
        let path = shape.path;
        // The release of this gitops, pinned, downloaded by install-gitops.sh (which checks
        // it against the release's SHA256SUMS) with that pinned version.
        let pin = shape.pin.replace("{v}", env!("CARGO_PKG_VERSION"));
        assert!(text.contains(&pin), "{path} does not pin `{pin}`");
        assert!(
            text.lines().any(
                |l| (l.contains("install-gitops.sh") || l.contains("\"$installer\""))
                    && l.contains("\"$GITOPS_VERSION\"")
            ),
            "{path} does not run install-gitops.sh with the pinned version"
        );
        // gitops-ci.sh, in each of its modes: plan, apply, drift.
        assert!(text.contains("gitops-ci.sh"), "{path}");
        for mode in ["diff", "apply", "drift"] {
            let step = shape.step.replace("{mode}", mode);
            assert!(text.contains(&step), "{path} never runs `{step}`");
        }
        // Applies are gated: a destructive plan stops before writing (exit 4), and that is
        // handled, not a failure of the pipeline.
        assert!(text.contains("--fail-on-destructive"), "{path}");
        assert!(
            ["-eq 4", "== 4", "exit_codes: [4]"]
                .iter()
                .any(|handled| text.contains(handled)),
            "{path} does not handle exit 4"
        );
        // The kubeconfig from the secret store, never traced or echoed.
        assert!(text.contains(shape.secret), "{path}: no `{}`", shape.secret);
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with('#') || code.starts_with("//") {
                continue;
            }
            assert!(
                !code.contains("set -x") && !code.contains("xtrace"),
                "{path} traces: {line}"
            );
            if code.contains("echo") || code.contains("printf") {
                assert!(
                    !code.contains("KUBECONFIG") || code.contains("=$(printf '%s'"),
                    "{path} prints the kubeconfig: {line}"
                );
            }
        }
    }
    // The new templates fan out over a list of targets and say where it comes from.
    for path in [AZURE, CIRCLECI, BITBUCKET, JENKINS, TRAVIS] {
        assert!(
            template(path).contains("`gitops targets --names`"),
            "{path}"
        );
    }
}

/// A stand-in gitops-ci.sh: records its mode, the kubeconfig it was given (as content or as
/// KUBECONFIG) and GITOPS_ARGS, then exits with STUB_CODE.
fn stub_ci_script(dir: &Path) -> PathBuf {
    let path = dir.join("gitops-ci.sh");
    std::fs::write(
        &path,
        r#"#!/bin/sh
printf '%s\n' "$1" > "$STUB_DIR/mode"
if [ -n "${GITOPS_KUBECONFIG_DATA:-}" ]; then
    printf '%s\n' "$GITOPS_KUBECONFIG_DATA" > "$STUB_DIR/kubeconfig"
else
    cat "$KUBECONFIG" > "$STUB_DIR/kubeconfig"
fi
echo "gitops-ci stand-in: exit $STUB_CODE"
exit "$STUB_CODE"
"#,
    )
    .unwrap();
    path
}

/// Runs `commands` in one bash, in order, ending with the first that fails (as Bitbucket
/// and Travis run a step's script lines), in a clean environment with only `env`.
fn run_lines(
    dir: &Path,
    shell_options: &[&str],
    commands: &[String],
    env: &[(&str, String)],
) -> Run {
    let mut script = String::new();
    for command in commands {
        script.push_str(command);
        script.push_str("\n__ci_status=$?; [ \"$__ci_status\" -eq 0 ] || exit \"$__ci_status\"\n");
    }
    let mut bash = Command::new("bash");
    bash.args(shell_options)
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir);
    for (key, value) in env {
        bash.env(key, value);
    }
    run_command(bash)
}

fn strings(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|v| v.as_str().expect("a command").to_owned())
        .collect()
}

#[test]
fn the_apply_steps_pass_a_refused_destructive_plan_and_fail_on_errors() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let stub = stub_ci_script(dir.path());
    let kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user: {token: fake}\n";
    let kubeconfig_file = dir.path().join("secure-file-kubeconfig");
    std::fs::write(&kubeconfig_file, kubeconfig).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(kubeconfig);

    // Each system's apply step as its runner runs it: (system, mode, shell options, lines,
    // environment). CircleCI runs `run` steps with bash -eo pipefail; Azure a bash file;
    // Travis and Bitbucket their script lines in one shell.
    let circleci = yaml(CIRCLECI);
    let circleci_run = circleci["commands"]["gitops-ci"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"]["command"].as_str())
        .find(|c| c.contains("$GITOPS_CI_SCRIPT"))
        .expect("the gitops-ci.sh step")
        .to_owned();
    let travis = yaml(TRAVIS);
    let mut travis_lines = strings(&travis["before_script"]);
    travis_lines.extend(strings(&travis["script"]));
    let azure = yaml(AZURE);
    let azure_apply = azure["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "apply")
        .expect("the stage apply")["jobs"][0]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["bash"].as_str())
        .find(|b| b.contains("\"$GITOPS_CI_SCRIPT\" apply"))
        .expect("the apply step")
        .to_owned();
    let bitbucket = yaml(BITBUCKET);
    let bitbucket_apply = strings(
        &bitbucket["pipelines"]["branches"]["main"][0]["parallel"]["steps"][0]["step"]["script"],
    );
    let bitbucket_gated = bitbucket_apply.last().unwrap().clone();

    let base = |more: &[(&'static str, String)]| {
        let mut env = vec![
            ("GITOPS_CI_SCRIPT", stub.display().to_string()),
            ("GITOPS_TARGET", "web".to_owned()),
            ("STUB_DIR", dir.path().display().to_string()),
        ];
        env.extend_from_slice(more);
        env
    };
    type Case = (
        &'static str,
        &'static str,
        Vec<&'static str>,
        Vec<String>,
        Vec<(&'static str, String)>,
    );
    let mut cases: Vec<Case> = Vec::new();
    for mode in ["apply", "diff", "drift"] {
        cases.push((
            "CircleCI",
            mode,
            vec!["-eo", "pipefail"],
            vec![circleci_run.replace("<< parameters.mode >>", mode)],
            base(&[("KUBECONFIG_B64", b64.clone())]),
        ));
        cases.push((
            "Travis CI",
            mode,
            vec![],
            travis_lines.clone(),
            base(&[
                ("KUBECONFIG_B64", b64.clone()),
                ("GITOPS_MODE", mode.to_owned()),
            ]),
        ));
    }
    cases.push((
        "Azure Pipelines",
        "apply",
        vec![],
        vec![azure_apply],
        base(&[("KUBECONFIG", kubeconfig_file.display().to_string())]),
    ));
    cases.push((
        "Bitbucket Pipelines",
        "apply",
        vec![],
        vec![bitbucket_gated],
        base(&[("GITOPS_KUBECONFIG_DATA", kubeconfig.to_owned())]),
    ));

    for (system, mode, options, lines, env) in cases {
        for code in [0, 2, 3, 4, 1] {
            for recorded in ["mode", "kubeconfig"] {
                let _ = std::fs::remove_file(dir.path().join(recorded));
            }
            let mut env = env.clone();
            env.push(("STUB_CODE", code.to_string()));
            let run = run_lines(dir.path(), &options, &lines, &env);
            // Only apply's exit 4 (refused before any write) passes; diff's 2 never reaches
            // the template (gitops-ci.sh diff turns it into 0), drift's 2 fails the job.
            let expected = if mode == "apply" && code == 4 {
                0
            } else {
                code
            };
            assert_eq!(
                run.code, expected,
                "{system} {mode}, gitops-ci.sh exit {code}:\n{}\n{}",
                run.stdout, run.stderr
            );
            assert_eq!(read(&dir.path().join("mode")).trim(), mode, "{system}");
            assert_eq!(
                read(&dir.path().join("kubeconfig")).trim(),
                kubeconfig.trim(),
                "{system}: the kubeconfig from the secret store reaches gitops-ci.sh"
            );
            assert!(!run.stdout.contains(&b64) && !run.stderr.contains(&b64));
            assert!(!run.stdout.contains("token: fake") && !run.stderr.contains("token: fake"));
            let refused = mode == "apply" && code == 4;
            assert_eq!(
                run.stdout.contains("nothing was written"),
                refused,
                "{system} {mode} exit {code}: {}",
                run.stdout
            );
            if system == "Azure Pipelines" {
                assert_eq!(
                    run.stdout
                        .contains("##vso[task.complete result=SucceededWithIssues;]"),
                    refused,
                    "{}",
                    run.stdout
                );
            }
        }
    }
}

/// The `export NAME=value` of a step's script lines.
fn exported(lines: &[String], name: &str) -> String {
    let prefix = format!("export {name}=");
    lines
        .iter()
        .flat_map(|l| l.lines())
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn bitbucket_steps_install_the_pinned_release_plan_apply_and_detect_drift() {
    use base64::Engine;
    let bitbucket = yaml(BITBUCKET);
    let pipelines = &bitbucket["pipelines"];
    let step = |item: &serde_yaml::Value| strings(&item["step"]["script"]);
    let plan = step(&pipelines["pull-requests"]["**"][0]["parallel"]["steps"][0]);
    let apply = step(&pipelines["branches"]["main"][0]["parallel"]["steps"][0]);
    let drift = step(&pipelines["custom"]["gitops-drift"][0]["parallel"]["steps"][0]);
    let target = exported(&plan, "GITOPS_TARGET");
    assert_eq!(exported(&apply, "GITOPS_TARGET"), target);
    assert_eq!(exported(&drift, "GITOPS_TARGET"), target);
    let destructive_name = format!("gitops-apply-destructive-{target}");
    let destructive = step(&pipelines["custom"][destructive_name.as_str()][0]);
    assert_eq!(exported(&destructive, "GITOPS_TARGET"), target);
    let version = exported(&plan, "GITOPS_VERSION");

    // The release and the two scripts, served from loopback as GitHub serves them: the
    // "binary" in the tarball runs the gitops under test.
    let releases = tempfile::tempdir().unwrap();
    let (archive, sum) = write_release(
        releases.path(),
        &version,
        &format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_gitops")
        ),
    );
    let sums = releases.path().join(format!("v{version}/SHA256SUMS"));
    std::fs::write(&sums, format!("{sum}  {archive}\n")).unwrap();
    std::fs::create_dir_all(releases.path().join("scripts")).unwrap();
    for script in ["gitops-ci.sh", "install-gitops.sh"] {
        std::fs::copy(
            repo_root().join("ci-templates/scripts").join(script),
            releases.path().join("scripts").join(script),
        )
        .unwrap();
    }
    let server = FileServer::start(releases.path());

    let cleanup = TestNamespace::not_created("ci-bitbucket");
    let ns = cleanup.name.clone();
    let repo = config_repo_for(&target, &ns);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = std::fs::read_to_string(&testenv().kubeconfig).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&kubeconfig);
    let token = kubeconfig_token();
    let url = format!("http://127.0.0.1:{}", server.port);
    // Bitbucket's variables, and the secured repository variable with the kubeconfig.
    let env = |branch: &str, more: &[(&'static str, String)]| {
        let mut env = vec![
            ("BITBUCKET_BUILD_NUMBER", "17".to_owned()),
            ("BITBUCKET_BRANCH", branch.to_owned()),
            ("BITBUCKET_CLONE_DIR", repo.path().display().to_string()),
            ("BITBUCKET_REPO_FULL_NAME", "org/config".to_owned()),
            ("KUBECONFIG_B64", b64.clone()),
            ("TMPDIR", tmp.path().display().to_string()),
            ("GITOPS_RELEASE_URL", url.clone()),
            ("GITOPS_SCRIPTS_URL", format!("{url}/scripts")),
        ];
        env.extend_from_slice(more);
        env
    };
    let pull_request = env("feature/more-logs", &[("BITBUCKET_PR_ID", "5".to_owned())]);
    let main = env(
        "main",
        &[("BITBUCKET_DEPLOYMENT_ENVIRONMENT", target.clone())],
    );
    let settings = || {
        kubectl(
            &[
                "-n",
                &ns,
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.data.LOG_LEVEL}",
            ],
            None,
        )
    };

    // Pull request: the pinned release is downloaded and verified, the plan is in the log and
    // the artifact, and changes (exit 2) do not fail the step.
    let run = run_lines(repo.path(), &[], &plan, &pull_request);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!("gitops {version}"))
            && run.stderr.contains("verified and installed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("exit-code=2\nchanges=true\n"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("### gitops plan"), "{}", run.stderr);
    let artifact = read(&repo.path().join("gitops-out/gitops-plan.md"));
    assert!(
        artifact.contains("### gitops plan") && artifact.contains("ConfigMap"),
        "{artifact}"
    );
    assert_no_secret(&run, &[&token, &b64]);
    // The next push finds the binary in the cache: no second download.
    let again = run_lines(repo.path(), &[], &plan, &pull_request);
    again.expect_code(0);
    assert!(
        !again.stderr.contains("verified and installed"),
        "{}",
        again.stderr
    );

    // Merge: the apply step of the target's deployment.
    let run = run_lines(repo.path(), &[], &apply, &main);
    run.expect_code(0);
    assert_no_secret(&run, &[&token, &b64]);
    assert!(
        run.stderr
            .contains(&format!("applied and healthy ({target})")),
        "{}",
        run.stderr
    );
    assert_eq!(settings().stdout, "info");

    // The schedule: no drift, then a hand edit fails the step with exit 2.
    run_lines(repo.path(), &[], &drift, &main).expect_code(0);
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
    let run = run_lines(repo.path(), &[], &drift, &main);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("### Drift: the cluster differs from Git"),
        "{}",
        run.stderr
    );

    // Git drops the ConfigMap: the merge's apply writes nothing, passes, and names the custom
    // pipeline that applies it after a review; that pipeline prunes it.
    std::fs::remove_file(repo.path().join("apps/web/settings.yaml")).unwrap();
    let run = run_lines(repo.path(), &[], &apply, &main);
    run.expect_code(0);
    assert!(
        run.stdout.contains("nothing was written")
            && run
                .stdout
                .contains(&format!("run the custom pipeline {destructive_name}")),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        settings().stdout,
        "debug",
        "the refused apply wrote nothing"
    );
    let run = run_lines(repo.path(), &[], &destructive, &main);
    run.expect_code(0);
    assert_ne!(
        settings().code,
        0,
        "the reviewed apply pruned the ConfigMap"
    );

    // Every step removed its kubeconfig file.
    let left: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("gitops-kubeconfig"))
        .collect();
    assert!(left.is_empty(), "kubeconfig files left: {left:?}");

    // A release that does not match its checksum is never run: the step fails before gitops.
    std::fs::write(&sums, format!("{}  {archive}\n", "0".repeat(64))).unwrap();
    let fresh = config_repo_for(&target, &ns);
    let mut env = pull_request.clone();
    env.retain(|(k, _)| *k != "BITBUCKET_CLONE_DIR");
    let run = run_lines(fresh.path(), &[], &plan, &env);
    run.expect_code(1);
    assert!(
        run.stderr.contains("does not match its checksum"),
        "{}",
        run.stderr
    );
    assert!(!fresh.path().join("gitops-out/gitops-plan.md").exists());
}
