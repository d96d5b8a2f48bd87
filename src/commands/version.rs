//! `gitops version`: the tool's version and the renderers it would run.

use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::Exit;
use crate::render::tools::{self, Tool};

pub fn run(global: &GlobalArgs) -> anyhow::Result<Exit> {
    let found: Vec<(Tool, Option<(std::path::PathBuf, String)>)> = [
        tools::HELM,
        tools::KUSTOMIZE,
        tools::KUBECTL,
        crate::render::sops::SOPS,
    ]
    .into_iter()
    .map(|tool| (tool, tools::version(tool)))
    .collect();
    if global.output == OutputFormat::Json {
        let renderers: serde_json::Map<String, serde_json::Value> = found
            .iter()
            .map(|(tool, found)| {
                let value = found.as_ref().map_or(
                    serde_json::Value::Null,
                    |(path, version)| json!({"version": version, "path": path}),
                );
                (tool.name.to_owned(), value)
            })
            .collect();
        crate::report::write_stdout(&format!(
            "{}\n",
            json!({
                "gitops": env!("CARGO_PKG_VERSION"),
                "commit": env!("GITOPS_BUILD_COMMIT"),
                "built": env!("GITOPS_BUILD_DATE"),
                "renderers": renderers,
            })
        ))?;
        return Ok(Exit::Success);
    }
    let commit = env!("GITOPS_BUILD_COMMIT");
    let mut text = format!(
        "gitops {} (commit {}, built {})\n",
        env!("CARGO_PKG_VERSION"),
        &commit[..commit.len().min(12)],
        env!("GITOPS_BUILD_DATE")
    );
    for (tool, found) in &found {
        text.push_str(&match found {
            Some((path, version)) => format!("{:<10} {version} ({})\n", tool.name, path.display()),
            None => format!("{:<10} not found ({})\n", tool.name, tool.install),
        });
    }
    crate::report::write_stdout(&text)?;
    Ok(Exit::Success)
}
