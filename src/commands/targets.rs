//! `gitops targets [--json]`: the targets of gitops.yaml, e.g. for a CI matrix.

use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat, TargetsArgs};
use crate::exit::{Exit, UsageError};
use crate::target;

pub fn run(global: &GlobalArgs, args: &TargetsArgs) -> anyhow::Result<Exit> {
    if global.name.is_some() {
        return Err(UsageError("targets lists gitops.yaml; --name does not apply".into()).into());
    }
    let Some(config) = target::load_config(global.config.as_deref())? else {
        anyhow::bail!(
            "no gitops.yaml found (looked for {}): create one, or name it with --config",
            target::config_file(None).display()
        );
    };
    let selection = target::Selection {
        targets: global.targets.clone(),
        ..Default::default()
    };
    // select() checks --target names; the listing shows the targets as written.
    let chosen: Vec<String> = target::select(&selection, Some(&config))?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let specs: Vec<_> = config
        .content
        .targets
        .iter()
        .filter(|t| chosen.contains(&t.name))
        .collect();
    if args.json || global.output == OutputFormat::Json {
        let list: Vec<_> = specs
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "path": t.path,
                    "namespace": t.namespace,
                    "context": t.context,
                    "prune": t.prune.unwrap_or(true),
                    "timeout": t.timeout,
                    "createNamespace": t.create_namespace.unwrap_or(false),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(Exit::Success);
    }
    let rows: Vec<[&str; 4]> = specs
        .iter()
        .map(|t| {
            [
                t.name.as_str(),
                t.path.as_str(),
                t.namespace.as_deref().unwrap_or("-"),
                t.context.as_deref().unwrap_or("-"),
            ]
        })
        .collect();
    print!("{}", table(["NAME", "PATH", "NAMESPACE", "CONTEXT"], &rows));
    Ok(Exit::Success)
}

/// Left-aligned columns separated by two spaces.
fn table<const N: usize>(header: [&str; N], rows: &[[&str; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
