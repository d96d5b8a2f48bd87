//! `gitops render [PATH]`: the YAML stream that would be applied, in apply order.

use std::io::Write;

use anyhow::Context;
use serde_json::{json, Value};

use super::{resolve_all, run_flags, selection};
use crate::cli::{GlobalArgs, OutputFormat, RenderArgs};
use crate::exit::{Exit, UsageError};
use crate::render::hooks::Hook;
use crate::render::{self, order, validate, Manifest, RenderRequest};
use crate::resolved::Resolved;
use crate::target;
use crate::{log, mask, yaml};

/// A render with problems: all of them, each with its place.
#[derive(Debug, thiserror::Error)]
#[error("target {target}: {} problem(s) in the rendered manifests:\n{}", problems.len(), crate::log::bullets(problems))]
pub struct InvalidRender {
    pub target: String,
    pub problems: Vec<validate::Problem>,
}

/// Renders, validates and orders one target (shared by every command that renders): its
/// objects in apply order, and its hooks.
pub fn render_target(
    resolved: &Resolved,
    capabilities: Option<&render::Capabilities>,
) -> anyhow::Result<(Vec<Manifest>, Vec<Hook>)> {
    let (target, namespace) = (&resolved.target, &resolved.namespace);
    let request = RenderRequest {
        source: &target.source,
        helm: &target.helm,
        name: &target.name,
        namespace,
        capabilities,
        files: &target.files,
    };
    let (kind, manifests) =
        render::render(&request).with_context(|| format!("rendering target {}", target.name))?;
    let (mut manifests, hooks) =
        render::hooks::split_hooks(manifests).map_err(|problems| InvalidRender {
            target: target.name.clone(),
            problems,
        })?;
    log::verbose(&format!(
        "target {}: {} renderer, {} objects, default namespace {namespace}",
        target.name,
        kind.as_str(),
        manifests.len()
    ));
    let mut problems = validate::validate(&manifests, namespace);
    problems.extend(render::hooks::beside_objects(&hooks, &manifests, namespace));
    if !problems.is_empty() {
        return Err(InvalidRender {
            target: target.name.clone(),
            problems,
        }
        .into());
    }
    order::sort_for_apply(&mut manifests);
    Ok((manifests, hooks))
}

pub fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<Exit> {
    if global.output == OutputFormat::Markdown {
        return Err(UsageError(
            "render writes YAML (-o text) or JSON (-o json), not markdown".into(),
        )
        .into());
    }
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select(&selection(global, args.path.as_deref()), config.as_ref())?;
    let targets = resolve_all(targets, &run_flags(global))?;
    // Everything is rendered and validated before anything is printed.
    let mut rendered = Vec::with_capacity(targets.len());
    for target in &targets {
        // No cluster here: charts see helm's default capabilities.
        let (mut manifests, hooks) = render_target(target, None)?;
        if !hooks.is_empty() {
            let names: Vec<String> = hooks.iter().map(describe_hook).collect();
            log::info(&format!(
                "target {}: {} hook object(s), not in this stream: apply runs them at their phase:\n{}",
                target.name(),
                hooks.len(),
                crate::log::bullets(&names)
            ));
        }
        if manifests.is_empty() {
            log::warn(&format!("target {} rendered no objects", target.name()));
        }
        if !args.show_secrets {
            manifests
                .iter_mut()
                .for_each(|m| mask::mask_secret(&mut m.object));
        }
        rendered.push((target, manifests));
    }
    let text = match global.output {
        OutputFormat::Json => json_list(&rendered),
        _ => yaml_stream(&rendered),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Exit::Success)
}

/// `PreSync: batch/v1 Job db-migrate (hooks.yaml:1 (document 1))`
fn describe_hook(hook: &Hook) -> String {
    let when = match (hook.phases.as_slice(), &hook.not_run) {
        ([], Some(word)) => format!("not run ({word})"),
        (phases, _) => phases
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "{when}: {} ({})",
        render::hooks::describe(&hook.manifest),
        hook.manifest.origin
    )
}

fn yaml_stream(rendered: &[(&Resolved, Vec<Manifest>)]) -> String {
    let mut out = String::new();
    for (target, manifests) in rendered {
        if rendered.len() > 1 {
            out.push_str(&format!("# Target: {}\n", target.name()));
        }
        for manifest in manifests {
            out.push_str("---\n# Source: ");
            out.push_str(&manifest.origin.to_string());
            out.push('\n');
            yaml::write_document(&mut out, &manifest.object);
        }
    }
    out
}

fn json_list(rendered: &[(&Resolved, Vec<Manifest>)]) -> String {
    let items: Vec<&Value> = rendered
        .iter()
        .flat_map(|(_, manifests)| manifests.iter().map(|m| &m.object))
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    format!("{list:#}\n")
}
