//! Shell completion (issue 21, item 4): the bash script loaded in a real bash completes a flag
//! and the target names of gitops.yaml; other shells get a script; an unknown shell is 64.

mod common;

use std::process::Command;

use common::cli::{gitops, temp_tree};

#[test]
fn bash_completes_a_flag_and_target_names_from_gitops_yaml() {
    let repo = temp_tree(&[
        (
            "gitops.yaml",
            "targets:\n  - {name: shop-staging, path: staging}\n  - {name: shop-production, path: production}\n  - {name: platform, path: platform}\n",
        ),
        ("staging/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
        ("production/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
        ("platform/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
    ]);
    let script = gitops(&["completion", "bash"]);
    script.expect_code(0);
    let file = repo.path().join("gitops.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_gitops"))
        .parent()
        .unwrap()
        .to_path_buf();
    // What bash does on TAB: set COMP_* and call the function `complete -p` names.
    let driver = format!(
        r#"
set -u
source {script}
function_name=$(complete -p gitops | sed -E 's/.*-F ([^ ]+).*/\1/')
complete_words() {{
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
    COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()
    "$function_name" gitops "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    printf '%s\n' "${{COMPREPLY[@]}}" | sort
}}
echo "== flag"; complete_words gitops diff --fail-on
echo "== target"; complete_words gitops diff --target shop-
echo "== compare"; complete_words gitops compare shop-p
"#,
        script = file.display()
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .current_dir(repo.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "== flag\n--fail-on-destructive\n== target\nshop-production\nshop-staging\n== compare\nshop-production\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_a_usage_error() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = gitops(&["completion", shell]);
        run.expect_code(0);
        assert!(run.stdout.contains("gitops"), "{shell}");
    }
    let unknown = gitops(&["completion", "tcsh"]);
    unknown.expect_code(64);
    assert!(unknown.stderr.contains("tcsh"), "{}", unknown.stderr);
}

#[test]
fn man_pages_are_generated_from_the_command_line() {
    let page = gitops(&["man"]);
    page.expect_code(0);
    assert!(
        page.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq") || page.stdout.contains(".TH gitops"),
        "{}",
        &page.stdout[..200.min(page.stdout.len())]
    );
    assert!(
        page.stdout.contains("promote") && page.stdout.contains("completion"),
        "the page lists the commands"
    );
    let dir = tempfile::tempdir().unwrap();
    let written = gitops(&["man", "--dir", &dir.path().display().to_string()]);
    written.expect_code(0);
    for page in [
        "gitops.1",
        "gitops-diff.1",
        "gitops-apply.1",
        "gitops-compare.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let diff = std::fs::read_to_string(dir.path().join("gitops-diff.1")).unwrap();
    assert!(diff.contains("fail\\-on\\-destructive"), "{diff}");
}
