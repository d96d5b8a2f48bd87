//! Environments (issue 18): `gitops compare` of kustomize overlays, a Helm chart with values
//! per environment and plain directories, offline; `TARGET@REV` from Git.

mod common;

use common::cli::{Gitops, Run};
use common::git::Repo;
use common::kubectl::TestNamespace;
use common::schema::assert_valid;
use serde_json::Value;

const CONFIG: &str = "\
# Environments of the shop, one target each.
targets:
  - name: staging
    path: shop/overlays/staging
    namespace: shop-staging
  - name: production
    path: shop/overlays/production
    namespace: shop-production
  - name: chart-staging
    path: chart
    namespace: web-staging
    helm: {releaseName: web, values: [values-staging.yaml]}
  - name: chart-production
    path: chart
    namespace: web-production
    helm: {releaseName: web, values: [values-production.yaml]}
    promote: {images: {web: image.tag}}
  - name: plain-staging
    path: plain/staging
  - name: plain-production
    path: plain/production
  - name: broken
    path: broken
";

const BASE_DEPLOYMENTS: &str = "\
# The shop's workloads; tags are set per overlay.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.0.0
          ports:
            - containerPort: 8080
          resources:
            requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/shop/worker:1.0.0
          args: [migrate]
      containers:
        - name: worker
          image: registry.example.com/shop/worker:1.0.0
";

fn overlay(namespace: &str, web: &str, extra: &str, replicas: u32, password: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {namespace}
resources:
  - ../../base
{extra}images:
  # Promotion edits these tags.
  - name: registry.example.com/shop/web
    newTag: \"{web}\"
  - name: registry.example.com/shop/worker
    newTag: 2.1.0
replicas:
  - name: web
    count: {replicas}
secretGenerator:
  - name: db
    literals: [password={password}]
"
    )
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.3.0\nappVersion: \"1.5.0\"\n";
const CHART_VALUES: &str =
    "image:\n  repository: registry.example.com/shop/web\n  tag: latest\nreplicas: 1\n";
const CHART_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"
";

fn plain(tag: &str, extra: &str) -> String {
    format!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: report\n  namespace: reports\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - name: report\n              image: registry.example.com/report:{tag}\n{extra}")
}

/// The shop repository: staging runs web 1.5.0 and has a feature-flags ConfigMap that
/// production lacks; production runs web 1.4.2; the worker is the same everywhere.
fn shop() -> Repo {
    let repo = Repo::init();
    let flags = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: feature-flags\ndata:\n  checkout: \"true\"\n";
    repo.commit(
        &[
            ("gitops.yaml", CONFIG),
            (
                "shop/base/kustomization.yaml",
                "resources: [deployments.yaml]\n",
            ),
            ("shop/base/deployments.yaml", BASE_DEPLOYMENTS),
            ("shop/overlays/staging/flags.yaml", flags),
            (
                "shop/overlays/staging/kustomization.yaml",
                &overlay(
                    "shop-staging",
                    "1.5.0",
                    "  - flags.yaml\n",
                    1,
                    "staging-pw-2d1f",
                ),
            ),
            (
                "shop/overlays/production/kustomization.yaml",
                &overlay("shop-production", "1.4.2", "", 3, "production-pw-9c7e"),
            ),
            ("broken/kustomization.yaml", "resources: [missing.yaml]\n"),
            ("chart/Chart.yaml", CHART),
            ("chart/values.yaml", CHART_VALUES),
            ("chart/values-staging.yaml", "image:\n  tag: 1.5.0\n"),
            (
                "chart/values-production.yaml",
                "image:\n  tag: 1.4.2\nreplicas: 3\n",
            ),
            ("chart/templates/deployment.yaml", CHART_DEPLOYMENT),
            ("plain/staging/report.yaml", &plain("7", "")),
            ("plain/production/report.yaml", &plain("7", "")),
        ],
        "Dev One",
        "The shop in two environments",
    );
    repo
}

fn compare(repo: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    Gitops::new(all).current_dir(repo.path()).run()
}

fn json(run: &Run) -> Value {
    let value: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    assert_valid("compare", &value);
    value
}

#[test]
fn overlays_differ_in_exactly_the_web_image_and_the_staging_only_object() {
    let repo = shop();
    let run = compare(&repo, &["staging", "production", "-o", "json"]);
    run.expect_code(2);
    let value = json(&run);
    assert_eq!(
        value["images"],
        serde_json::json!([{
            "workload": "Deployment/shop-staging/web",
            "container": "web",
            "a": "registry.example.com/shop/web:1.5.0",
            "b": "registry.example.com/shop/web:1.4.2",
        }])
    );
    assert_eq!(
        value["onlyInA"],
        serde_json::json!(["ConfigMap/shop-staging/feature-flags"])
    );
    assert_eq!(value["onlyInB"], serde_json::json!([]));
    assert_eq!(
        value["namespaces"],
        serde_json::json!({"a": "shop-staging", "b": "shop-production"})
    );
    // The generated Secret pairs despite its hash; its values never appear.
    let fields = value["fields"].as_array().unwrap();
    let at = |object: &str, path: &str| {
        fields
            .iter()
            .find(|f| f["object"].as_str().unwrap().starts_with(object) && f["path"] == path)
            .unwrap_or_else(|| panic!("no {object} {path} in {fields:#?}"))
    };
    assert_eq!(at("Deployment/shop-staging/web", "/spec/replicas")["b"], 3);
    let password = at("Secret/shop-staging/db-", "/data/password");
    assert_eq!(password["a"], "<hidden>");
    assert!(
        !run.stdout.contains("c3RhZ2luZy1wdy0yZDFm"),
        "a Secret value leaked"
    );
    assert!(!run.stdout.contains("staging-pw"), "a Secret value leaked");
    assert!(
        !fields
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("secretRef/name")),
        "{fields:#?}"
    );
    assert_eq!(value["summary"]["images"], 1);
    assert_eq!(value["summary"]["onlyInA"], 1);

    let text = compare(&repo, &["staging", "production"]);
    text.expect_code(2);
    assert!(
        text.stdout.contains("    staging:    registry.example.com/shop/web:1.5.0\n    production: registry.example.com/shop/web:1.4.2\n"),
        "{}",
        text.stdout
    );
    let summary = text.stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("1 image differs, 1 object only in staging, ")
            && summary.ends_with(" fields differ."),
        "{summary}"
    );
    assert!(!text.stdout.contains("staging-pw"));
    compare(&repo, &["staging", "production", "--exit-zero"]).expect_code(0);
}

#[test]
fn a_chart_with_values_per_environment_shows_its_version_and_image() {
    let repo = shop();
    let run = compare(&repo, &["chart-staging", "chart-production", "-o", "json"]);
    run.expect_code(2);
    let value = json(&run);
    assert_eq!(
        value["charts"]["a"],
        serde_json::json!({"name": "web", "version": "0.3.0", "appVersion": "1.5.0"})
    );
    let images = value["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:#?}");
    assert_eq!(images[0]["a"], "registry.example.com/shop/web:1.5.0");
    assert_eq!(images[0]["b"], "registry.example.com/shop/web:1.4.2");
    assert_eq!(value["onlyInA"], serde_json::json!([]));

    let markdown = compare(
        &repo,
        &["chart-staging", "chart-production", "-o", "markdown"],
    );
    markdown.expect_code(2);
    assert!(
        markdown.stdout.contains("| Deployment/web-staging/web | web | `registry.example.com/shop/web:1.5.0` | `registry.example.com/shop/web:1.4.2` |"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("Chart: `chart-staging` web 0.3.0 (app 1.5.0)"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn equal_plain_directories_agree_and_a_past_revision_is_a_side() {
    let repo = shop();
    let same = compare(&repo, &["plain-staging", "plain-production"]);
    same.expect_code(0);
    assert!(
        same.stdout.ends_with("0 images differ, 0 fields differ.\n"),
        "{}",
        same.stdout
    );
    // PATHs work as sides too.
    compare(&repo, &["plain/staging", "plain/production"]).expect_code(0);

    let before = repo.head();
    repo.commit(
        &[(
            "plain/production/report.yaml",
            &plain("8", "              args: [--full]\n"),
        )],
        "Dev Two",
        "Report 8 in production",
    );
    let run = compare(
        &repo,
        &[
            &format!("plain-production@{}", &before[..8]),
            "plain-production",
            "-o",
            "json",
        ],
    );
    run.expect_code(2);
    let value = json(&run);
    assert_eq!(value["images"][0]["workload"], "CronJob/reports/report");
    assert_eq!(value["images"][0]["a"], "registry.example.com/report:7");
    assert_eq!(value["images"][0]["b"], "registry.example.com/report:8");
    assert_eq!(
        value["fields"][0]["path"],
        "/spec/jobTemplate/spec/template/spec/containers/0/args"
    );
    compare(&repo, &["plain-production@HEAD", "plain-production"]).expect_code(0);
}

#[test]
fn bad_sides_are_refused_with_what_to_do() {
    let repo = shop();
    let unknown = compare(&repo, &["staging", "prod"]);
    unknown.expect_code(1);
    assert!(
        unknown
            .stderr
            .contains("\"prod\" is neither a target nor a path")
            && unknown
                .stderr
                .contains("staging, production, chart-staging"),
        "{}",
        unknown.stderr
    );
    let same = compare(&repo, &["staging", "staging"]);
    same.expect_code(64);
    assert!(
        same.stderr.contains("two different sides"),
        "{}",
        same.stderr
    );
    let broken = compare(&repo, &["staging", "broken"]);
    broken.expect_code(1);
    assert!(
        broken.stderr.contains("side broken: rendering failed"),
        "{}",
        broken.stderr
    );
    let no_revision = compare(&repo, &["staging@no-such-branch", "staging"]);
    no_revision.expect_code(1);
    assert!(
        no_revision.stderr.contains("side staging@no-such-branch"),
        "{}",
        no_revision.stderr
    );
    compare(&repo, &["staging"]).expect_code(64);
    assert_eq!(unknown.stdout, "");
}

/// A repository whose two environments live in the test's namespaces.
fn live_repo(staging: &str, production: &str) -> Repo {
    let repo = Repo::init();
    let overlay = |ns: &str, level: &str| {
        format!("namespace: {ns}\nresources: [../../base]\nconfigMapGenerator:\n  - name: env\n    literals: [LOG_LEVEL={level}]\n")
    };
    repo.commit(
        &[
            (
                "gitops.yaml",
                &format!("targets:\n  - {{name: staging, path: app/overlays/staging, namespace: {staging}}}\n  - {{name: production, path: app/overlays/production, namespace: {production}}}\n  - {{name: preview, path: app/overlays/staging, namespace: {staging}-preview}}\n"),
            ),
            ("app/base/kustomization.yaml", "resources: [settings.yaml]\n"),
            (
                "app/base/settings.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  cache: \"128\"\n",
            ),
            ("app/overlays/staging/kustomization.yaml", &overlay(staging, "info")),
            ("app/overlays/production/kustomization.yaml", &overlay(production, "warn")),
            ("README.md", "The app.\n"),
        ],
        "Dev One",
        "The app in two environments",
    );
    repo
}

fn apply_target(repo: &Repo, target: &str) {
    Gitops::new(["apply", "--target", target])
        .current_dir(repo.path())
        .on_cluster()
        .run()
        .expect_code(0);
}

fn compare_live(repo: &Repo, a: &str, b: &str, extra: &[&str]) -> Run {
    let mut args = vec!["compare", a, b, "--live"];
    args.extend_from_slice(extra);
    Gitops::new(args)
        .current_dir(repo.path())
        .on_cluster()
        .run()
}

#[test]
fn live_lists_the_commits_staging_runs_that_production_does_not() {
    let staging = TestNamespace::new("env-staging");
    let production = TestNamespace::new("env-production");
    let repo = live_repo(&staging.name, &production.name);
    apply_target(&repo, "staging");
    apply_target(&repo, "production");
    let first = repo.head();

    let same = compare_live(&repo, "staging", "production", &[]);
    same.expect_code(0);
    assert!(
        same.stdout
            .contains("staging and production run the same revision."),
        "{}",
        same.stdout
    );

    let base = repo.commit(
        &[("app/base/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  cache: \"256\"\n")],
        "Dev Two",
        "Base: a bigger cache",
    );
    let overlay = repo.commit(
        &[("app/overlays/staging/kustomization.yaml", &format!("namespace: {}\nresources: [../../base]\nconfigMapGenerator:\n  - name: env\n    literals: [LOG_LEVEL=debug]\n", staging.name))],
        "Dev One",
        "Staging: debug logging",
    );
    repo.commit(
        &[("README.md", "The app, documented.\n")],
        "Dev Three",
        "Docs only",
    );
    apply_target(&repo, "staging");

    let run = compare_live(&repo, "staging", "production", &["-o", "json"]);
    run.expect_code(2);
    let value = json(&run);
    assert_eq!(value["live"]["a"], repo.head());
    assert_eq!(value["live"]["b"], first);
    let commits = value["live"]["commits"].as_array().unwrap();
    let shas: Vec<&str> = commits.iter().map(|c| c["sha"].as_str().unwrap()).collect();
    assert_eq!(shas, [base.as_str(), overlay.as_str()], "{commits:#?}");
    assert_eq!(commits[0]["author"], "Dev Two");
    assert_eq!(commits[1]["subject"], "Staging: debug logging");
    assert_eq!(commits[1]["runsIn"], "a");

    let text = compare_live(&repo, "production", "staging", &[]);
    text.expect_code(2);
    assert!(
        text.stdout
            .contains("staging runs 2 commits that production does not.")
            && text.stdout.contains("Base: a bigger cache (Dev Two)")
            && !text.stdout.contains("Docs only"),
        "{}",
        text.stdout
    );

    // A shallow CI clone lacks production's commit: it says what to fetch.
    let shallow = tempfile::tempdir().unwrap();
    repo.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        &format!("file://{}", repo.path().display()),
        &shallow.path().display().to_string(),
    ]);
    let cut = Gitops::new(["compare", "staging", "production", "--live"])
        .current_dir(shallow.path())
        .on_cluster()
        .run();
    cut.expect_code(1);
    assert!(
        cut.stderr.contains(&format!(
            "commit {first} (deployed to production) is not in this clone"
        )) && cut.stderr.contains("git fetch --unshallow")
            && cut.stderr.contains("fetch-depth: 0"),
        "{}",
        cut.stderr
    );

    let never = compare_live(&repo, "staging", "preview", &[]);
    never.expect_code(2);
    assert!(
        never
            .stdout
            .contains("preview was never applied; staging was."),
        "{}",
        never.stdout
    );

    apply_target(&repo, "production");
    compare_live(&repo, "staging", "production", &[]).expect_code(0);
}

fn promote(repo: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["promote"];
    all.extend_from_slice(args);
    Gitops::new(all).current_dir(repo.path()).run()
}

fn read(repo: &Repo, file: &str) -> String {
    std::fs::read_to_string(repo.path().join(file)).unwrap()
}

const PRODUCTION: &str = "shop/overlays/production/kustomization.yaml";

#[test]
fn promote_edits_the_overlays_tag_and_no_other_byte() {
    let repo = shop();
    let before = read(&repo, PRODUCTION);
    let shown = promote(&repo, &["staging", "production"]);
    shown.expect_code(2);
    assert!(
        shown.stdout.starts_with("--- a/shop/overlays/production/kustomization.yaml\n+++ b/shop/overlays/production/kustomization.yaml\n")
            && shown.stdout.contains("-    newTag: \"1.4.2\"\n+    newTag: \"1.5.0\"\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stderr
            .contains("web: 1.4.2 -> 1.5.0 (Deployment/shop-production/web)"),
        "{}",
        shown.stderr
    );
    assert_eq!(read(&repo, PRODUCTION), before, "printing changed the file");

    promote(&repo, &["staging", "production", "--write"]).expect_code(0);
    assert_eq!(
        read(&repo, PRODUCTION),
        before.replace("newTag: \"1.4.2\"", "newTag: \"1.5.0\""),
        "promote changed more than the tag"
    );
    let after = compare(&repo, &["staging", "production", "-o", "json"]);
    assert_eq!(json(&after)["images"], serde_json::json!([]));
    let rendered = Gitops::new(["render", "--target", "production"])
        .current_dir(repo.path())
        .run();
    rendered.expect_code(0);
    assert!(
        rendered
            .stdout
            .contains("image: registry.example.com/shop/web:1.5.0"),
        "{}",
        rendered.stdout
    );
    // Nothing left to promote.
    promote(&repo, &["staging", "production"]).expect_code(0);
}

#[test]
fn promote_adds_a_missing_images_entry_and_commits_on_a_branch() {
    let repo = shop();
    // Production runs the base's worker tag: its overlay has no entry for the worker.
    let without_worker = read(&repo, PRODUCTION).replace(
        "  - name: registry.example.com/shop/worker\n    newTag: 2.1.0\n",
        "",
    );
    repo.commit(
        &[(PRODUCTION, &without_worker)],
        "Dev One",
        "Production keeps the base's worker",
    );
    let base_rev = repo.head();
    let run = promote(
        &repo,
        &["staging", "production", "--image", "worker", "--commit"],
    );
    run.expect_code(0);
    let now = read(&repo, PRODUCTION);
    assert_eq!(
        now,
        without_worker.replace(
            "    newTag: \"1.4.2\"\n",
            "    newTag: \"1.4.2\"\n  - name: registry.example.com/shop/worker\n    newTag: 2.1.0\n"
        ),
        "{}",
        run.stdout
    );
    let branch = repo.git(&["branch", "--show-current"]);
    assert_eq!(
        branch,
        format!("promote/staging-to-production-{}", &base_rev[..7])
    );
    let shown = repo.git(&["show", "--stat", "--format=%s%n%b", "HEAD"]);
    assert!(
        shown.starts_with("Promote staging to production\n")
            && shown.contains("worker: 1.0.0 -> 2.1.0")
            && shown.contains("shop/overlays/production/kustomization.yaml"),
        "{shown}"
    );
    // --image limited it to the worker: web still differs.
    let left = json(&compare(&repo, &["staging", "production", "-o", "json"]));
    let workloads: Vec<&str> = left["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["container"].as_str().unwrap())
        .collect();
    assert_eq!(workloads, ["web"]);
}

#[test]
fn promote_sets_the_mapped_values_key_of_a_chart_and_a_plain_image() {
    let repo = shop();
    let values = read(&repo, "chart/values-production.yaml");
    promote(&repo, &["chart-staging", "chart-production", "--write"]).expect_code(0);
    assert_eq!(
        read(&repo, "chart/values-production.yaml"),
        values.replace("tag: 1.4.2", "tag: 1.5.0")
    );
    assert_eq!(
        read(&repo, "chart/values.yaml"),
        CHART_VALUES,
        "the shared values must not change"
    );
    compare(&repo, &["chart-staging", "chart-production"]).expect_code(0);

    let staged = plain("8", "");
    repo.commit(
        &[("plain/staging/report.yaml", &staged)],
        "Dev One",
        "Report 8 in staging",
    );
    let production = read(&repo, "plain/production/report.yaml");
    promote(&repo, &["plain-staging", "plain-production", "--write"]).expect_code(0);
    assert_eq!(
        read(&repo, "plain/production/report.yaml"),
        production.replace(
            "registry.example.com/report:7",
            "registry.example.com/report:8"
        )
    );
}

#[test]
fn promote_refuses_what_it_cannot_do_and_writes_nothing() {
    let repo = shop();
    let before = read(&repo, PRODUCTION);
    let missing = promote(
        &repo,
        &["staging", "production", "--image", "checkout", "--write"],
    );
    missing.expect_code(1);
    assert!(
        missing
            .stderr
            .contains("not promotable: production has no workload checkout"),
        "{}",
        missing.stderr
    );

    // A chart target without a mapping says what to configure.
    let unmapped = CONFIG.replace("    promote: {images: {web: image.tag}}\n", "");
    repo.commit(&[("gitops.yaml", &unmapped)], "Dev One", "No mapping");
    let no_mapping = promote(&repo, &["chart-staging", "chart-production"]);
    no_mapping.expect_code(1);
    assert!(
        no_mapping
            .stderr
            .contains("add `promote: {images: {web: image.tag}}` to the target"),
        "{}",
        no_mapping.stderr
    );
    let wrong_key = CONFIG.replace("image.tag}}", "image.version}}");
    repo.commit(&[("gitops.yaml", &wrong_key)], "Dev One", "Wrong key");
    let missing_key = promote(&repo, &["chart-staging", "chart-production"]);
    missing_key.expect_code(1);
    assert!(
        missing_key.stderr.contains("the values key image.version")
            && missing_key.stderr.contains("values-production.yaml"),
        "{}",
        missing_key.stderr
    );

    // Uncommitted changes in the file to edit: refused unless --force.
    let dirty = before.replace("replicas:\n", "# local note\nreplicas:\n");
    std::fs::write(repo.path().join(PRODUCTION), &dirty).unwrap();
    let refused = promote(&repo, &["staging", "production", "--write"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("uncommitted changes") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert_eq!(read(&repo, PRODUCTION), dirty);
    promote(&repo, &["staging", "production", "--write", "--force"]).expect_code(0);
    assert!(read(&repo, PRODUCTION).contains("# local note\n"));

    // Two workloads of B running one image in two versions: which one A's replaces is unclear.
    let weekly = plain("6", "").replace(
        "name: report\n  namespace",
        "name: report-weekly\n  namespace",
    );
    repo.commit(
        &[
            ("plain/production/weekly.yaml", &weekly),
            ("plain/staging/report.yaml", &plain("8", "")),
        ],
        "Dev One",
        "A weekly report on an older image",
    );
    let versions = promote(&repo, &["plain-staging", "plain-production", "--write"]);
    versions.expect_code(1);
    assert!(
        versions
            .stderr
            .contains("registry.example.com/report in two versions (7, 6)"),
        "{}",
        versions.stderr
    );
    assert_eq!(read(&repo, "plain/production/report.yaml"), plain("7", ""));
    // A may be a past revision; B, which is edited, may not.
    promote(&repo, &["staging@HEAD", "staging"]).expect_code(0);
    promote(&repo, &["staging", "production@HEAD"]).expect_code(64);
}

#[test]
fn promote_review_findings_column_zero_lists_prefixes_sops_files_and_existing_branches() {
    let repo = shop();
    // `kustomize edit set image` writes the list at column 0: a new entry lines up with it.
    let production = read(&repo, PRODUCTION)
        .replace("images:\n  # Promotion edits these tags.\n  - name: registry.example.com/shop/web\n    newTag: \"1.4.2\"\n  - name: registry.example.com/shop/worker\n    newTag: 2.1.0\n", "images:\n- name: registry.example.com/shop/web\n  newTag: \"1.4.2\"\n");
    assert!(production.contains("images:\n- name"), "{production}");
    repo.commit(&[(PRODUCTION, &production)], "Dev One", "Column 0");
    promote(&repo, &["staging", "production", "--write"]).expect_code(0);
    assert_eq!(
        read(&repo, PRODUCTION),
        production.replace(
            "- name: registry.example.com/shop/web\n  newTag: \"1.4.2\"\n",
            "- name: registry.example.com/shop/web\n  newTag: \"1.5.0\"\n- name: registry.example.com/shop/worker\n  newTag: 2.1.0\n"
        )
    );
    Gitops::new(["render", "--target", "production"])
        .current_dir(repo.path())
        .run()
        .expect_code(0);
    repo.commit(&[], "Dev One", "Promoted");

    // A second --commit of the same revision: refused before anything is written.
    let again = shop();
    promote(
        &again,
        &["staging", "production", "--commit", "--image", "web"],
    )
    .expect_code(0);
    again.git(&["switch", "-q", "main"]);
    let refused = promote(
        &again,
        &["staging", "production", "--commit", "--image", "web"],
    );
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("exists already"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        again.git(&["status", "--porcelain"]),
        "",
        "the tree changed"
    );

    // A namePrefix per environment: objects still pair by their names without it.
    let prefixed = read(&again, PRODUCTION).replace(
        "namespace: shop-production\n",
        "namespace: shop-production\nnamePrefix: prd-\n",
    );
    again.commit(&[(PRODUCTION, &prefixed)], "Dev One", "Prefix");
    let moved = promote(&again, &["staging", "production"]);
    moved.expect_code(2);
    assert!(
        moved
            .stderr
            .contains("web: 1.4.2 -> 1.5.0 (Deployment/shop-production/prd-web)"),
        "{}",
        moved.stderr
    );
    // Workloads that pair with none (other names on each side): an error, never "nothing to promote".
    let apart = Repo::init();
    let web = |name: &str, tag: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/app:{tag}\n")
    };
    apart.commit(
        &[
            (
                "gitops.yaml",
                "targets:\n  - {name: a, path: a}\n  - {name: b, path: b}\n",
            ),
            ("a/web.yaml", &web("web", "2")),
            ("b/web.yaml", &web("api", "1")),
        ],
        "Dev One",
        "Apart",
    );
    let nothing = promote(&apart, &["a", "b"]);
    nothing.expect_code(1);
    assert!(
        nothing.stderr.contains("have no workload in common"),
        "{}",
        nothing.stderr
    );
}
