//! Chart dependencies that Chart.yaml lists and `charts/` lacks (authors often leave `helm
//! dependency build` to the deploy tool, and Argo CD builds them): built into a copy of the
//! chart, so that the working tree is never written to.

use std::path::Path;

use super::runner::run;
use super::tools;
use super::{display_path, RenderError};
use crate::log;

/// When Chart.yaml lists dependencies missing from `charts/` (as Argo CD does, gitops builds
/// them; authors often leave `helm dependency build` to the deploy tool): a copy of the chart in
/// a temporary directory, with relative `file://` repositories made absolute, after `helm
/// dependency build`. None when nothing is missing.
pub fn build_missing(
    chart: &Path,
    program: &Path,
) -> Result<Option<tempfile::TempDir>, RenderError> {
    let chart_file = chart.join("Chart.yaml");
    let text =
        std::fs::read_to_string(&chart_file).map_err(|e| super::io_error(&chart_file, &e))?;
    let Ok(mut meta) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
        return Ok(None); // helm reports a broken Chart.yaml better than we would
    };
    let Some(dependencies) = meta
        .get_mut("dependencies")
        .and_then(serde_yaml::Value::as_sequence_mut)
    else {
        return Ok(None);
    };
    let present = |name: &str| {
        chart.join("charts").join(name).is_dir()
            || std::fs::read_dir(chart.join("charts")).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let file = e.file_name().to_string_lossy().into_owned();
                    file.starts_with(&format!("{name}-")) && file.ends_with(".tgz")
                })
            })
    };
    let missing: Vec<String> = dependencies
        .iter()
        .filter_map(|d| d.get("name")?.as_str())
        .filter(|name| !present(name))
        .map(str::to_owned)
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    for dependency in dependencies.iter_mut() {
        let Some(repository) = dependency.get("repository").and_then(|r| r.as_str()) else {
            continue;
        };
        if let Some(relative) = repository
            .strip_prefix("file://")
            .filter(|p| !p.starts_with('/'))
        {
            let absolute = chart.join(relative);
            let absolute = absolute.canonicalize().unwrap_or(absolute);
            dependency["repository"] = format!("file://{}", absolute.display()).into();
        }
    }
    // Chart repositories (not `file://`, not `oci://`, which need no index).
    let urls: Vec<String> = dependencies
        .iter()
        .filter_map(|d| d.get("repository")?.as_str())
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
        .map(str::to_owned)
        .collect();
    let temp = tempfile::Builder::new()
        .prefix("gitops-chart-")
        .tempdir()
        .map_err(|e| super::io_error(chart, &e))?;
    let copy = temp.path().join("chart");
    copy_dir(chart, &copy, 0)?;
    let rewritten = serde_yaml::to_string(&meta).unwrap_or(text);
    std::fs::write(copy.join("Chart.yaml"), rewritten).map_err(|e| super::io_error(&copy, &e))?;
    log::verbose(&format!(
        "{}: building missing chart dependencies ({}) in a copy",
        display_path(chart),
        missing.join(", ")
    ));
    let build = |repository_config: Option<&Path>| {
        let mut args = vec!["dependency".to_owned(), "build".to_owned()];
        if let Some(config) = repository_config {
            args.extend([
                "--repository-config".to_owned(),
                config.display().to_string(),
            ]);
        }
        args.push(copy.display().to_string());
        run(tools::HELM, program, &args)
    };
    let built = match build(None) {
        // `build` follows Chart.lock but needs each repository's index, which helm only has
        // for repositories added with `helm repo add`. As Argo CD does, the chart's own
        // repositories are added, here to a repository config of this run only.
        Err(RenderError::RendererFailed { stderr, .. })
            if stderr.contains("no cached repository")
                || stderr.contains("no repository definition") =>
        {
            log::warn(&format!(
                "{}: the repositories of its dependencies were never added with helm repo add; adding them for this run and building from Chart.lock",
                display_path(chart)
            ));
            let config = add_repositories(program, temp.path(), &urls)?;
            build(Some(&config))
        }
        other => other,
    };
    built.map_err(|e| match e {
        RenderError::RendererFailed { status, stderr, .. } => RenderError::RendererFailed {
            command: format!(
                "helm dependency build {} (for its dependencies {}, not in charts/)",
                display_path(chart),
                missing.join(", ")
            ),
            status,
            stderr: format!("{stderr}\nput the dependencies into charts/ (helm dependency build), or make their repositories reachable (helm repo add)"),
        },
        other => other,
    })?;
    Ok(Some(temp))
}

/// Copies a directory tree (links are followed, at most 32 levels deep so that a link loop
/// ends; hidden entries such as .git are skipped).
fn copy_dir(from: &Path, to: &Path, depth: usize) -> Result<(), RenderError> {
    if depth > 32 {
        return Err(RenderError::SymlinkLoop {
            path: display_path(from),
            target: "a directory above it".to_owned(),
        });
    }
    std::fs::create_dir_all(to).map_err(|e| super::io_error(to, &e))?;
    for entry in std::fs::read_dir(from).map_err(|e| super::io_error(from, &e))? {
        let entry = entry.map_err(|e| super::io_error(from, &e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') && name != ".helmignore" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if source.is_dir() {
            copy_dir(&source, &target, depth + 1)?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| super::io_error(&source, &e))?;
        }
    }
    Ok(())
}

/// A repository config for this run: the user's (credentials of private repositories
/// included), plus `urls` under names of their own. Adding fetches each index into helm's cache.
fn add_repositories(
    program: &Path,
    dir: &Path,
    urls: &[String],
) -> Result<std::path::PathBuf, RenderError> {
    let config = dir.join("repositories.yaml");
    let users = run(
        tools::HELM,
        program,
        &["env".to_owned(), "HELM_REPOSITORY_CONFIG".to_owned()],
    )
    .ok()
    .map(|path| std::path::PathBuf::from(path.trim()))
    .filter(|path| path.is_file());
    if let Some(users) = users {
        std::fs::copy(&users, &config).map_err(|e| super::io_error(&users, &e))?;
    }
    for url in urls {
        // A stable name per URL: `--force-update` then makes adding it twice harmless.
        let name = format!("gitops-{:016x}", crate::names::fnv1a(url.as_bytes()));
        let args = [
            "repo",
            "add",
            "--force-update",
            "--repository-config",
            &config.display().to_string(),
            &name,
            url,
        ]
        .map(str::to_owned);
        run(tools::HELM, program, &args)?;
    }
    Ok(config)
}
