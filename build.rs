//! Build metadata for `gitops version`: the commit and date the binary was built from
//! (GITOPS_BUILD_COMMIT / GITOPS_BUILD_DATE when the release build sets them, else Git and
//! SOURCE_DATE_EPOCH or today).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GITOPS_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=GITOPS_BUILD_DATE");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=.git/HEAD");
    // The branch HEAD is on moves with every commit.
    if let Some(branch) = std::fs::read_to_string(".git/HEAD")
        .ok()
        .and_then(|head| head.strip_prefix("ref: ").map(|r| r.trim().to_owned()))
    {
        println!("cargo:rerun-if-changed=.git/{branch}");
    }
    let commit = std::env::var("GITOPS_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| output("git", &["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let date = std::env::var("GITOPS_BUILD_DATE")
        .ok()
        .filter(|d| !d.is_empty())
        .or_else(|| {
            let epoch = std::env::var("SOURCE_DATE_EPOCH").ok()?;
            output("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"])
        })
        .or_else(|| output("date", &["-u", "+%Y-%m-%d"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GITOPS_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=GITOPS_BUILD_DATE={date}");
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
