//! `gitops targets [--json]`: the targets of gitops.yaml, e.g. for a CI matrix.

use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat, TargetsArgs};
use crate::exit::{Exit, UsageError};
use crate::report::table;
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
    if args.names {
        let names: String = specs.iter().map(|t| format!("{}\n", t.name)).collect();
        crate::report::write_stdout(&names)?;
        return Ok(Exit::Success);
    }
    if args.json || global.output == OutputFormat::Json {
        let list: Vec<_> = specs
            .iter()
            .map(|t| {
                json!({
                    "schemaVersion": crate::report::SCHEMA_VERSION,
                    "name": t.name,
                    "path": t.path,
                    "namespace": t.namespace,
                    "context": t.context,
                    "prune": t.prune.unwrap_or(true),
                    "timeout": t.timeout,
                    "createNamespace": t.create_namespace.unwrap_or(false),
                    "dependsOn": t.depends_on,
                })
            })
            .collect();
        crate::report::write_stdout(&format!("{}\n", serde_json::Value::Array(list)))?;
        return Ok(Exit::Success);
    }
    let rows: Vec<[String; 4]> = specs
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                t.path.clone(),
                t.namespace.clone().unwrap_or_else(|| "-".into()),
                t.context.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    crate::report::write_stdout(&table::render(
        ["NAME", "PATH", "NAMESPACE", "CONTEXT"],
        &rows,
        0,
    ))?;
    Ok(Exit::Success)
}
