//! Git as the source of truth: revisions and dirty trees, `--repo`/`--ref` from local
//! repositories and over HTTPS with a token, CI context, history and rollback on the real
//! control plane.

mod common;

use common::cli::{Gitops, Run};
use common::git::{HttpsGitServer, Repo};
use common::kubectl::{kubectl_ok, TestNamespace};
use serde_json::Value;

fn config_map(ns: &str, name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  value: \"{value}\"\n")
}

/// gitops in `dir` with CI variables of the machine running the tests removed.
fn gitops_in(dir: &std::path::Path, args: &[&str]) -> Gitops {
    let mut run = Gitops::new(args).current_dir(dir);
    for key in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITOPS_GIT_TOKEN",
        "GITHUB_TOKEN",
        "CI_JOB_TOKEN",
    ] {
        run = run.env_remove(key);
    }
    run
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn the_plan_names_the_commit_and_a_dirty_tree() {
    let ns = TestNamespace::new("git-rev");
    let repo = Repo::init();
    let commit = repo.commit(
        &[("app/cm.yaml", &config_map(&ns.name, "settings", "1"))],
        "Ada Lovelace",
        "settings: first value",
    );
    let diff = |args: &[&str]| {
        let mut all = vec!["diff", "app", "-o", "json", "--exit-zero"];
        all.extend_from_slice(args);
        gitops_in(repo.path(), &all).on_cluster().run()
    };
    let clean = diff(&[]);
    clean.expect_code(0);
    assert_eq!(json(&clean)["revision"], commit.as_str());
    assert!(!clean.stderr.contains("dirty"), "{}", clean.stderr);

    // Untracked files outside the target's path, hidden ones (editor swap files) and ignored
    // ones inside it are not part of what is applied.
    repo.write(&[
        ("notes.txt", "scratch"),
        (".gitignore", "*.tgz\n"),
        ("app/.cm.yaml.swp", "swap"),
        ("app/chart.tgz", "built"),
    ]);
    assert_eq!(json(&diff(&[]))["revision"], commit.as_str());
    repo.write(&[(".gitignore", ""), ("app/chart.tgz", "")]);

    // An untracked manifest in the target's path is rendered: the commit alone no longer
    // describes what is applied.
    repo.write(&[("app/extra/new.yaml", &config_map(&ns.name, "extra", "1"))]);
    let untracked = diff(&[]);
    assert_eq!(
        json(&untracked)["revision"],
        format!("{commit}-dirty").as_str()
    );
    assert!(
        untracked.stderr.contains("untracked files"),
        "{}",
        untracked.stderr
    );
    repo.write(&[("app/extra/new.yaml", "")]);
    assert_eq!(json(&diff(&[]))["revision"], commit.as_str());
    // A target whose own directory is hidden (`.deploy`) still counts its untracked files.
    repo.write(&[(".deploy/new.yaml", &config_map(&ns.name, "hidden-dir", "1"))]);
    let hidden = gitops_in(
        repo.path(),
        &["diff", ".deploy", "-o", "json", "--exit-zero"],
    )
    .on_cluster()
    .run();
    assert_eq!(
        json(&hidden)["revision"],
        format!("{commit}-dirty").as_str()
    );
    repo.write(&[(".deploy/new.yaml", "")]);

    // A tracked file changed: the revision says so, and a warning tells the user.
    repo.write(&[("app/cm.yaml", &config_map(&ns.name, "settings", "2"))]);
    let dirty = diff(&[]);
    dirty.expect_code(0);
    assert_eq!(json(&dirty)["revision"], format!("{commit}-dirty").as_str());
    assert!(
        dirty.stderr.contains("uncommitted changes") && dirty.stderr.contains("-dirty"),
        "{}",
        dirty.stderr
    );
    let text = gitops_in(repo.path(), &["diff", "app"]).on_cluster().run();
    assert!(
        text.stderr.contains(&format!("{commit}-dirty")),
        "the text run names the dirty revision:\n{}",
        text.stderr
    );

    // Outside Git, everything works with revision "unknown".
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(
        plain.path().join("cm.yaml"),
        config_map(&ns.name, "settings", "1"),
    )
    .unwrap();
    let outside = gitops_in(
        plain.path(),
        &["diff", ".", "--name", "plain", "-o", "json"],
    )
    .on_cluster()
    .run();
    outside.expect_code(2);
    assert_eq!(json(&outside)["revision"], "unknown");
}

/// A repository with a branch, a tag and three commits of one target `app`.
struct ThreeRevisions {
    repo: Repo,
    first: String,
    second: String,
    third: String,
}

fn three_revisions(ns: &str) -> ThreeRevisions {
    let repo = Repo::init();
    let first = repo.commit(
        &[("app/one.yaml", &config_map(ns, "one", "1"))],
        "Ada Lovelace",
        "one configmap",
    );
    repo.git(&["tag", "v1"]);
    let second = repo.commit(
        &[
            ("app/one.yaml", &config_map(ns, "one", "2")),
            ("app/two.yaml", &config_map(ns, "two", "2")),
        ],
        "Grace Hopper",
        "second configmap",
    );
    repo.git(&["branch", "release", &second]);
    let third = repo.commit(
        &[("app/three.yaml", &config_map(ns, "three", "3"))],
        "Edsger Dijkstra",
        "third configmap",
    );
    ThreeRevisions {
        repo,
        first,
        second,
        third,
    }
}

/// Names of the ConfigMaps `render` printed.
fn rendered_names(run: &Run) -> Vec<String> {
    run.expect_code(0);
    let list: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn repo_and_ref_read_a_branch_a_tag_or_a_commit_of_a_local_repository() {
    let revisions = three_revisions("git-ref");
    let url = revisions.repo.path().display().to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let render = |repo: &str, reference: &str| {
        gitops_in(
            elsewhere.path(),
            &[
                "render", "app", "-o", "json", "--repo", repo, "--ref", reference,
            ],
        )
        .run()
    };
    assert_eq!(rendered_names(&render(&url, "v1")), ["one"]);
    let text = gitops_in(
        elsewhere.path(),
        &["render", "app", "--repo", &url, "--ref", "v1"],
    )
    .run();
    assert!(
        text.stdout.contains("# Source: app/one.yaml:1") && !text.stdout.contains("gitops-source-"),
        "sources are shown relative to the revision's root:\n{}",
        text.stdout
    );
    assert_eq!(rendered_names(&render(&url, "release")), ["one", "two"]);
    assert_eq!(
        rendered_names(&render(&format!("file://{url}"), &revisions.first)),
        ["one"]
    );
    assert_eq!(
        rendered_names(&render(&url, "main")),
        ["one", "three", "two"]
    );
    // --ref alone reads the repository holding the current directory, not its working tree.
    revisions.repo.write(&[("app/four.yaml", "kind: Broken")]);
    let local = gitops_in(
        revisions.repo.path(),
        &["render", "app", "-o", "json", "--ref", &revisions.second],
    )
    .run();
    assert_eq!(rendered_names(&local), ["one", "two"]);
    assert!(
        revisions.repo.path().join("app/four.yaml").exists(),
        "the working tree is untouched"
    );
    // An unknown ref: exit 1, naming it.
    let unknown = render(&url, "no-such-branch");
    unknown.expect_code(1);
    assert!(
        unknown.stderr.contains("no-such-branch") && unknown.stderr.contains("does not exist"),
        "{}",
        unknown.stderr
    );
    let _ = &revisions.third;
}

#[test]
fn repo_over_https_needs_the_token_and_never_prints_it() {
    let revisions = three_revisions("git-https");
    let served = tempfile::tempdir().unwrap();
    let bare = served.path().join("config.git");
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(revisions.repo.path())
        .arg(&bare)
        .status()
        .unwrap();
    assert!(status.success());
    let token = "tok-7f3a9c1e5b2d4680";
    let server = HttpsGitServer::start(served.path(), token);
    let url = server.url("config.git");
    let render = |reference: &str, token: Option<(&str, &str)>| {
        let mut run = gitops_in(
            served.path(),
            &[
                "render", "app", "-o", "json", "-v", "--repo", &url, "--ref", reference,
            ],
        )
        .env("SSL_CERT_FILE", &server.ca_file);
        if let Some((key, value)) = token {
            run = run.env(key, value);
        }
        run.run()
    };
    let assert_no_token = |run: &Run| {
        for stream in [&run.stdout, &run.stderr] {
            assert!(!stream.contains(token), "the token leaked:\n{stream}");
        }
    };

    let branch = render("release", Some(("GITOPS_GIT_TOKEN", token)));
    assert_no_token(&branch);
    assert_eq!(rendered_names(&branch), ["one", "two"]);
    assert!(
        branch.stderr.contains("GITOPS_GIT_TOKEN"),
        "-v names where the token came from:\n{}",
        branch.stderr
    );
    // Shallow: the clone asked for depth 1.
    let fetches = std::fs::read_to_string(&server.fetch_log).unwrap_or_default();
    assert!(
        fetches.lines().any(|l| l == "shallow") && !fetches.contains("full"),
        "fetches: {fetches:?}"
    );
    let tag = render("v1", Some(("GITHUB_TOKEN", token)));
    assert_no_token(&tag);
    assert_eq!(rendered_names(&tag), ["one"]);
    let commit = render(&revisions.second, Some(("CI_JOB_TOKEN", token)));
    assert_no_token(&commit);
    assert_eq!(rendered_names(&commit), ["one", "two"]);

    let without = render("main", None);
    without.expect_code(1);
    assert!(
        without.stderr.contains("refused the credentials"),
        "{}",
        without.stderr
    );
    let wrong = render("main", Some(("GITOPS_GIT_TOKEN", "not-the-token-123")));
    wrong.expect_code(1);
    assert!(
        wrong.stderr.contains("refused the credentials")
            && wrong.stderr.contains("GITOPS_GIT_TOKEN")
            && !wrong.stderr.contains("not-the-token-123"),
        "{}",
        wrong.stderr
    );
    let missing = render("no-such-tag", Some(("GITOPS_GIT_TOKEN", token)));
    missing.expect_code(1);
    assert_no_token(&missing);
    assert!(
        missing.stderr.contains("\"no-such-tag\" does not exist"),
        "{}",
        missing.stderr
    );
    // A certificate this machine does not trust: said so, with what to do.
    let untrusted = gitops_in(
        served.path(),
        &["render", "app", "--repo", &url, "--ref", "main"],
    )
    .env("GITOPS_GIT_TOKEN", token)
    .env_remove("SSL_CERT_FILE")
    .run();
    untrusted.expect_code(1);
    assert_no_token(&untrusted);
    assert!(
        untrusted.stderr.contains("not trusted"),
        "{}",
        untrusted.stderr
    );

    // A token written into the URL is not printed either.
    let with_userinfo = format!("https://user:{token}@127.0.0.1:{}/config.git", server.port);
    let inline = gitops_in(
        served.path(),
        &[
            "render",
            "app",
            "-v",
            "--repo",
            &with_userinfo,
            "--ref",
            "main",
            "-o",
            "json",
        ],
    )
    .env("SSL_CERT_FILE", &server.ca_file)
    .run();
    assert_no_token(&inline);

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = gitops_in(
        served.path(),
        &[
            "render",
            "app",
            "--repo",
            &format!("https://127.0.0.1:{port}/x.git"),
            "--ref",
            "main",
        ],
    )
    .run();
    unreachable.expect_code(1);
    assert!(
        unreachable.stderr.contains("cannot fetch"),
        "{}",
        unreachable.stderr
    );
}

fn history(dir: &std::path::Path, name: &str, ns: &str) -> Vec<Value> {
    let run = gitops_in(dir, &["history", "--name", name, "-n", ns, "-o", "json"])
        .on_cluster()
        .run();
    run.expect_code(0);
    json(&run)["history"].as_array().unwrap().clone()
}

fn config_maps(ns: &str) -> Vec<String> {
    let mut names: Vec<String> = kubectl_ok(&["-n", ns, "get", "configmaps", "-o", "name"], None)
        .lines()
        .map(|l| l.trim_start_matches("configmap/").to_owned())
        .filter(|n| n != "kube-root-ca.crt" && !n.starts_with("gitops-"))
        .collect();
    names.sort();
    names
}

#[test]
fn history_records_three_revisions_and_rollback_restores_the_first() {
    let ns = TestNamespace::new("git-rollback");
    let repo = Repo::init();
    let apply_at = |files: &[(&str, &str)], author: &str, subject: &str| {
        let commit = repo.commit(files, author, subject);
        gitops_in(
            repo.path(),
            &[
                "apply",
                "app",
                "--name",
                "shop",
                "-n",
                &ns.name,
                "--no-wait",
            ],
        )
        .on_cluster()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SERVER_URL", "https://github.example.com")
        .env("GITHUB_REPOSITORY", "org/config")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_ACTOR", "octocat")
        .run()
        .expect_code(0);
        commit
    };
    let first = apply_at(
        &[("app/one.yaml", &config_map(&ns.name, "one", "1"))],
        "Ada Lovelace",
        "one configmap",
    );
    let second = apply_at(
        &[
            ("app/one.yaml", &config_map(&ns.name, "one", "2")),
            ("app/two.yaml", &config_map(&ns.name, "two", "2")),
        ],
        "Grace Hopper",
        "second configmap",
    );
    let third = apply_at(
        &[("app/three.yaml", &config_map(&ns.name, "three", "3"))],
        "Edsger Dijkstra",
        "third configmap",
    );
    assert_eq!(config_maps(&ns.name), ["one", "three", "two"]);

    let entries = history(repo.path(), "shop", &ns.name);
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["revision"].as_str().unwrap(),
                e["author"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (first.as_str(), "Ada Lovelace", "one configmap"),
            (second.as_str(), "Grace Hopper", "second configmap"),
            (third.as_str(), "Edsger Dijkstra", "third configmap"),
        ]
    );
    assert_eq!(entries[2]["user"], "octocat");
    assert_eq!(
        entries[2]["jobUrl"],
        "https://github.example.com/org/config/actions/runs/4242"
    );
    let text = gitops_in(repo.path(), &["history", "--name", "shop", "-n", &ns.name])
        .on_cluster()
        .run();
    assert!(
        text.stdout.contains("Grace Hopper") && text.stdout.contains(&first[..12]),
        "{}",
        text.stdout
    );

    // Back to the first revision: `one` as it was then, `two` and `three` pruned; the
    // working tree is not touched.
    let rollback = gitops_in(
        repo.path(),
        &[
            "rollback",
            "--name",
            "shop",
            "-n",
            &ns.name,
            "--to",
            &first[..10],
            "--no-wait",
        ],
    )
    .on_cluster()
    .env("GITLAB_CI", "true")
    .env(
        "CI_JOB_URL",
        "https://gitlab.example.com/org/config/-/jobs/77",
    )
    .env("GITLAB_USER_LOGIN", "tanuki")
    .run();
    rollback.expect_code(0);
    assert_eq!(config_maps(&ns.name), ["one"]);
    assert_eq!(
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "configmap",
                "one",
                "-o",
                "jsonpath={.data.value}"
            ],
            None
        ),
        "1"
    );
    assert!(repo.path().join("app/three.yaml").exists());
    assert_eq!(repo.head(), third);
    let entries = history(repo.path(), "shop", &ns.name);
    let last = entries.last().unwrap();
    assert_eq!(last["operation"], "rollback");
    assert_eq!(last["revision"], first.as_str());
    assert_eq!(last["result"], "succeeded");
    assert_eq!(last["deleted"], 2);
    assert_eq!(last["user"], "tanuki");
    assert_eq!(
        last["jobUrl"],
        "https://gitlab.example.com/org/config/-/jobs/77"
    );

    // status: the deployed revision, and HEAD two commits ahead of it.
    let status = gitops_in(
        repo.path(),
        &["status", "--name", "shop", "-n", &ns.name, "-o", "json"],
    )
    .on_cluster()
    .run();
    status.expect_code(0);
    let status = json(&status);
    assert_eq!(status["revision"], first.as_str());
    assert_eq!(status["head"]["state"], "ahead");
    assert_eq!(status["head"]["ahead"], 2);

    // Without --to: the last successful revision before the current one (the third).
    gitops_in(
        repo.path(),
        &["rollback", "--name", "shop", "-n", &ns.name, "--no-wait"],
    )
    .on_cluster()
    .run()
    .expect_code(0);
    assert_eq!(config_maps(&ns.name), ["one", "three", "two"]);
    let entries = history(repo.path(), "shop", &ns.name);
    assert_eq!(entries.last().unwrap()["revision"], third.as_str());
    let status = gitops_in(repo.path(), &["status", "--name", "shop", "-n", &ns.name])
        .on_cluster()
        .run();
    assert!(
        status.stdout.contains("HEAD is the deployed revision"),
        "{}",
        status.stdout
    );

    // A revision that does not exist: exit 1, nothing changed.
    let unknown = gitops_in(
        repo.path(),
        &["rollback", "--name", "shop", "-n", &ns.name, "--to", "nope"],
    )
    .on_cluster()
    .run();
    unknown.expect_code(1);
    assert!(unknown.stderr.contains("\"nope\""), "{}", unknown.stderr);
    assert_eq!(config_maps(&ns.name), ["one", "three", "two"]);
}

/// Copies a fixture directory into the repository.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn rollback_renders_a_chart_with_the_settings_the_inventory_recorded() {
    let cleanup = TestNamespace::not_created("git-helm");
    let ns = cleanup.name.clone();
    let repo = Repo::init();
    copy_dir(
        &common::cli::fixture("demo/charts/podinfo-lite"),
        &repo.path().join("deploy/chart"),
    );
    let config = |message: &str| {
        format!(
            "targets:\n  - name: web\n    path: deploy/chart\n    namespace: {ns}\n    createNamespace: true\n    helm:\n      releaseName: web\n      values: [values-staging.yaml]\n      set:\n        ui.message: \"{message}\"\n"
        )
    };
    let apply = || {
        gitops_in(repo.path(), &["apply", "--no-wait"])
            .on_cluster()
            .run()
            .expect_code(0);
    };
    let first = repo.commit(
        &[("gitops.yaml", &config("first"))],
        "Ada Lovelace",
        "chart: first",
    );
    apply();
    // The second revision changes a helm set value; rolling back renders the chart with the
    // values file and set values recorded for the first.
    repo.commit(
        &[("gitops.yaml", &config("second"))],
        "Grace Hopper",
        "chart: second",
    );
    apply();
    let message = || {
        kubectl_ok(
            &[
                "-n",
                &ns,
                "get",
                "configmap",
                "web-podinfo-lite",
                "-o",
                "jsonpath={.data.PODINFO_UI_MESSAGE}",
            ],
            None,
        )
    };
    assert_eq!(message(), "second");
    gitops_in(
        repo.path(),
        &["rollback", "--target", "web", "--to", &first, "--no-wait"],
    )
    .on_cluster()
    .run()
    .expect_code(0);
    assert_eq!(message(), "first");
}
