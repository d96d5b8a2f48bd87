//! `gitops init` (issue 21) on repositories shaped like the examples people copy: overlays per
//! environment, a chart with values per environment, a folder per cluster. The generated
//! gitops.yaml is the reviewed one, renders every target, and `gitops targets` lists them.

mod common;

use common::cli::{Gitops, Run};
use common::git::Repo;

fn init(repo: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    Gitops::new(all).current_dir(repo.path()).run()
}

fn config(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path().join("gitops.yaml")).unwrap()
}

/// Every proposed target renders, and `targets --names` lists exactly `names`.
fn renders_and_lists(repo: &Repo, names: &[&str]) {
    let render = Gitops::new(["render"]).current_dir(repo.path()).run();
    render.expect_code(0);
    let listed = Gitops::new(["targets", "--names"])
        .current_dir(repo.path())
        .run();
    listed.expect_code(0);
    assert_eq!(listed.stdout.lines().collect::<Vec<_>>(), names);
}

const HEADER: &str = "# Proposed by `gitops init`: review the names, and add a namespace or context where a\n# target needs one (docs/configuration.md). Paths are relative to this file.\ntargets:\n";

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value\n")
}

#[test]
fn overlays_per_environment_become_one_target_each_and_bases_and_components_none() {
    let repo = Repo::init();
    repo.write(&[
        ("guestbook/base/kustomization.yaml", "resources: [ui.yaml]\n"),
        ("guestbook/base/ui.yaml", &config_map("ui")),
        (
            "guestbook/components/monitoring/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [monitor.yaml]\n",
        ),
        ("guestbook/components/monitoring/monitor.yaml", &config_map("monitor")),
        (
            "guestbook/overlays/staging/kustomization.yaml",
            "namespace: guestbook-staging\nresources: [../../base]\ncomponents: [../../components/monitoring]\n",
        ),
        (
            "guestbook/overlays/production/kustomization.yaml",
            "namespace: guestbook-production\nresources: [../../base, extra]\n",
        ),
        ("guestbook/overlays/production/extra/more.yaml", &config_map("more")),
        ("guestbook/overlays/production/extra/kustomization.yaml", "resources: [more.yaml]\n"),
        ("README.md", "# guestbook\n"),
    ]);
    let run = init(&repo, &[]);
    run.expect_code(0);
    assert_eq!(
        config(&repo),
        format!("{HEADER}  - name: guestbook-production\n    path: guestbook/overlays/production\n    namespace: guestbook-production\n  - name: guestbook-staging\n    path: guestbook/overlays/staging\n    namespace: guestbook-staging\n")
    );
    assert!(
        run.stderr
            .contains("next: review it, then run `gitops diff`"),
        "{}",
        run.stderr
    );
    renders_and_lists(&repo, &["guestbook-production", "guestbook-staging"]);
}

#[test]
fn a_chart_with_values_per_environment_becomes_one_target_per_environment() {
    let repo = Repo::init();
    repo.write(&[
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
        ("charts/web/values.yaml", "replicas: 1\n"),
        ("charts/web/values-staging.yaml", "replicas: 1\n"),
        ("charts/web/values-prod.yaml", "replicas: 3\n"),
        (
            "charts/web/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: \"{{ .Values.replicas }}\"\n",
        ),
        // A vendored dependency is the chart's own, not a target.
        ("charts/web/charts/redis/Chart.yaml", "apiVersion: v2\nname: redis\nversion: 0.1.0\n"),
        ("charts/web/charts/redis/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: redis\n"),
        // Test data is not searched.
        ("tests/fixtures/broken.yaml", &config_map("fixture")),
    ]);
    init(&repo, &[]).expect_code(0);
    assert_eq!(
        config(&repo),
        format!("{HEADER}  - name: web-prod\n    path: charts/web\n    helm:\n      releaseName: web\n      values: [values-prod.yaml]\n  - name: web-staging\n    path: charts/web\n    helm:\n      releaseName: web\n      values: [values-staging.yaml]\n")
    );
    renders_and_lists(&repo, &["web-prod", "web-staging"]);
}

#[test]
fn a_folder_per_cluster_becomes_one_target_per_cluster() {
    let repo = Repo::init();
    let namespaced = |name: &str, ns: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n")
    };
    repo.write(&[
        ("clusters/eu/app.yaml", &namespaced("app", "shop")),
        (
            "clusters/eu/00-namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
        ),
        ("clusters/us/app.yaml", &namespaced("app", "shop")),
        // Ordered parts of one platform stay one target.
        ("platform/00-crds/crd.yaml", &namespaced("crds", "platform")),
        (
            "platform/10-operator/op.yaml",
            &namespaced("operator", "platform"),
        ),
        // YAML that is not Kubernetes (an app's own config) is no target.
        ("config/app.yaml", "server:\n  port: 8080\n"),
    ]);
    init(&repo, &[]).expect_code(0);
    assert_eq!(
        config(&repo),
        format!("{HEADER}  - name: eu\n    path: clusters/eu\n  - name: us\n    path: clusters/us\n    namespace: shop\n  - name: platform\n    path: platform\n    namespace: platform\n")
    );
    renders_and_lists(&repo, &["eu", "us", "platform"]);
}

/// kubernetes/examples' cassandra: the manifests beside the image's own files, one of them a
/// YAML that is not Kubernetes (cassandra.yaml, the database's configuration).
#[test]
fn a_manifest_folder_with_an_applications_own_yaml_gets_exclude_globs() {
    let repo = Repo::init();
    repo.write(&[
        (
            "cassandra/cassandra-service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  labels:\n    app: cassandra\n  name: cassandra\nspec:\n  clusterIP: None\n  ports:\n  - port: 9042\n  selector:\n    app: cassandra\n",
        ),
        ("cassandra/cassandra-statefulset.yaml", &config_map("cassandra-settings")),
        ("cassandra/local-volumes.yaml", &config_map("volumes")),
        (
            "cassandra/image/files/cassandra.yaml",
            "cluster_name: 'Test Cluster'\nnum_tokens: 256\nseed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n",
        ),
        ("cassandra/image/Dockerfile", "FROM debian\n"),
        ("cassandra/java/settings.json", "{\"seeds\": [\"a\"]}\n"),
        ("cassandra/java/README.md", "java sources\n"),
        ("cassandra/ready-probe.json", "{\"probe\": true}\n"),
    ]);
    // Without the globs the folder does not render: the error says what to do.
    repo.write(&[(
        "gitops.yaml",
        "targets:\n  - name: cassandra\n    path: cassandra\n",
    )]);
    let bare = Gitops::new(["render"]).current_dir(repo.path()).run();
    bare.expect_code(1);
    assert!(
        bare.stderr
            .contains("cassandra/image/files/cassandra.yaml:1")
            && bare.stderr.contains("not a Kubernetes object")
            && bare.stderr.contains("exclude:"),
        "{}",
        bare.stderr
    );
    std::fs::remove_file(repo.path().join("gitops.yaml")).unwrap();

    init(&repo, &[]).expect_code(0);
    assert_eq!(
        config(&repo),
        format!("{HEADER}  - name: cassandra\n    path: cassandra\n    # not Kubernetes objects (an application's own files): left out\n    exclude: [\"./ready-probe.json\", \"image/**\", \"java/**\"]\n")
    );
    renders_and_lists(&repo, &["cassandra"]);
    let rendered = Gitops::new(["render"]).current_dir(repo.path()).run();
    assert_eq!(
        rendered.stdout.matches("kind: ").count(),
        3,
        "{}",
        rendered.stdout
    );

    // include works the other way round: only what it names.
    repo.write(&[(
        "gitops.yaml",
        "targets:\n  - name: cassandra\n    path: cassandra\n    include: [\"cassandra-*.yaml\"]\n",
    )]);
    let included = Gitops::new(["render"]).current_dir(repo.path()).run();
    included.expect_code(0);
    assert!(
        included.stdout.contains("name: cassandra\n") && !included.stdout.contains("name: volumes"),
        "{}",
        included.stdout
    );
    // On a kustomization or a chart, the globs are an error that says why.
    repo.write(&[
        ("app/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("app/cm.yaml", &config_map("app")),
        (
            "gitops.yaml",
            "targets:\n  - name: app\n    path: app\n    exclude: [\"cm.yaml\"]\n",
        ),
    ]);
    let refused = Gitops::new(["render"]).current_dir(repo.path()).run();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("include and exclude select the files of a plain directory, and this is a kustomization"),
        "{}",
        refused.stderr
    );
}

#[test]
fn init_refuses_to_overwrite_and_says_what_is_wrong() {
    let outside = tempfile::tempdir().unwrap();
    let run = Gitops::new(["init"]).current_dir(outside.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("is not in a Git repository"),
        "{}",
        run.stderr
    );

    let empty = Repo::init();
    empty.write(&[("README.md", "nothing here\n")]);
    let run = init(&empty, &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("nothing deployable found"),
        "{}",
        run.stderr
    );

    let repo = Repo::init();
    repo.write(&[
        ("team-a/app/cm.yaml", &config_map("a")),
        ("team-b/app/cm.yaml", &config_map("b")),
        ("gitops.yaml", "targets: []\n"),
    ]);
    let kept = init(&repo, &[]);
    kept.expect_code(1);
    assert!(
        kept.stderr
            .contains("gitops.yaml exists and was not changed: pass --force"),
        "{}",
        kept.stderr
    );
    assert_eq!(config(&repo), "targets: []\n");
    // --dry-run shows what would be written, also over an existing file.
    let dry = init(&repo, &["--dry-run", "--ci", "github"]);
    dry.expect_code(0);
    assert_eq!(config(&repo), "targets: []\n", "--dry-run wrote");
    // Two directories named app: each is named after its path, and it is said.
    assert!(
        dry.stderr.contains(
            "team-a/app would share the name app with another directory: it is named team-a-app"
        ),
        "{}",
        dry.stderr
    );
    assert!(dry.stdout.contains("  - name: team-a-app\n    path: team-a/app\n  - name: team-b-app\n    path: team-b/app\n"), "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("# --- .github/workflows/gitops-apply.yml"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!(
            "uses: gitops-dev/gitops/ci-templates/github@v{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        dry.stdout
    );
    init(&repo, &["--force", "--ci", "gitlab"]).expect_code(0);
    let gitlab = std::fs::read_to_string(repo.path().join(".gitlab-ci.yml")).unwrap();
    assert!(
        gitlab.contains("GITOPS_TARGET: [team-a-app, team-b-app]"),
        "{gitlab}"
    );
    renders_and_lists(&repo, &["team-a-app", "team-b-app"]);
}
