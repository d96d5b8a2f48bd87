//! Renderers that gitops runs as programs: Kustomize and Helm.

use std::path::{Path, PathBuf};

use super::manifest::{parse_stream, Manifest};
use super::runner::run;
use super::tools::{self, Tool};
use super::HelmSettings;
use super::{display_path, RenderError};

/// Where decrypted copies live (render/scratch.rs).
const MEMORY_ROOT: &str = "/dev/shm";

/// `kustomize build DIR`, else `kubectl kustomize DIR`.
pub fn kustomize(dir: &Path) -> Result<Vec<Manifest>, RenderError> {
    let shown = display_path(dir);
    // kustomize must build the plaintext (a secretGenerator hashes what it reads), so a
    // kustomization that reads encrypted files is built from a memory-backed copy in which
    // they are decrypted.
    let inputs = super::inputs::inputs(dir, &[]);
    let encrypted = super::sops::encrypted_files(&inputs);
    let scratch = match encrypted.is_empty() {
        true => None,
        false => Some(super::scratch::Scratch::build(&inputs, &encrypted)?),
    };
    let built_dir = match &scratch {
        Some(scratch) => {
            scratch.path_of(&dir.canonicalize().map_err(|e| super::io_error(dir, &e))?)
        }
        None => dir.to_path_buf(),
    };
    let dir = built_dir.as_path();
    // The real path for the program (a revision's temporary directory included); `shown`
    // for messages.
    let (tool, program, verb): (Tool, PathBuf, &str) = match tools::KUSTOMIZE.locate() {
        Some(kustomize) => (tools::KUSTOMIZE, kustomize, "build"),
        // Named as run: "kubectl kustomize DIR failed", not "kustomize kustomize".
        None => match tools::KUBECTL.locate() {
            Some(kubectl) => (tools::KUBECTL, kubectl, "kustomize"),
            None => {
                return Err(RenderError::RendererMissing(
                    tools::KUSTOMIZE.missing_hint(),
                ))
            }
        },
    };
    // Built through a wrapper that records each object's file; should that build fail, the
    // plain one runs, so that errors read as the user's own kustomize run would.
    let wrapper = super::kustomize_origin::Wrapper::around(dir);
    let wrapped = wrapper.as_ref().and_then(|w| {
        let args = vec![verb.to_owned(), w.path().display().to_string()];
        run(tool, &program, &args).ok()
    });
    let (stdout, origins) = match (wrapped, &wrapper) {
        (Some(stdout), Some(wrapper)) => (stdout, Some(wrapper)),
        _ => (
            match &scratch {
                // Run inside the copy: its location is not an argument, so never shown.
                Some(_) => {
                    super::runner::run_in(tool, &program, &[verb.to_owned(), ".".to_owned()], dir)
                }
                None => run(tool, &program, &[verb.to_owned(), program_path(dir)]),
            }
            .map_err(|e| match (&scratch, e) {
                // The copy's location never shows: its paths read as the real ones.
                (
                    Some(scratch),
                    RenderError::RendererFailed {
                        command,
                        status,
                        stderr,
                    },
                ) => RenderError::RendererFailed {
                    command: scratch.real_text(&command),
                    status,
                    stderr: scratch.real_text(&stderr),
                },
                (_, e) => e,
            })?,
            None,
        ),
    };
    let mut manifests = parse_stream(&stdout, &shown)?;
    for manifest in &mut manifests {
        manifest.origin.via = Some("kustomize");
    }
    if let Some(wrapper) = origins {
        wrapper.take_origins(&mut manifests);
    }
    if let Some(scratch) = &scratch {
        for manifest in &mut manifests {
            if Path::new(&manifest.origin.file).starts_with(MEMORY_ROOT) {
                manifest.origin.file =
                    display_path(&scratch.real_path(Path::new(&manifest.origin.file)));
            }
        }
    }
    Ok(manifests)
}

/// `helm template` with the target's release name, namespace, values files and set values.
pub fn helm(
    chart: &Path,
    settings: &HelmSettings,
    target_name: &str,
    namespace: &str,
    capabilities: Option<&super::Capabilities>,
) -> Result<Vec<Manifest>, RenderError> {
    let program = tools::HELM
        .locate()
        .ok_or_else(|| RenderError::RendererMissing(tools::HELM.missing_hint()))?;
    let shown = display_path(chart);
    // Dependencies that charts/ does not hold yet are built into a copy of the chart: the
    // working tree is never written to.
    let built = super::chart_dependencies::build_missing(chart, &program)?;
    let chart_arg = match &built {
        Some(copy) => copy.path().join("chart").display().to_string(),
        None => program_path(chart),
    };
    let release = settings.release_name.as_deref().unwrap_or(target_name);
    let mut args: Vec<String> = vec![
        "template".into(),
        release.into(),
        chart_arg,
        "--namespace".into(),
        namespace.into(),
        // CRDs are part of what the target deploys. Test hooks are rendered so that the plan
        // can say apply does not run them (render/hooks.rs).
        "--include-crds".into(),
    ];
    // Encrypted values files are decrypted into memory and handed to helm on stdin (`-`).
    let mut decrypted: Option<(usize, serde_json::Value)> = None;
    for (index, values) in settings.values.iter().enumerate() {
        let path = chart.join(values);
        if !path.is_file() {
            return Err(RenderError::NotFound {
                path: format!("{} (helm values file of {shown})", display_path(&path)),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| super::io_error(&path, &e))?;
        if !super::sops::is_encrypted(&text) {
            args.push("--values".into());
            args.push(program_path(&path));
            continue;
        }
        let plaintext = super::sops::decrypt(&path, &text)?;
        let value = super::sops::values_document(&path, &plaintext)?;
        decrypted = Some(match decrypted {
            None => {
                args.push("--values".into());
                args.push("-".into());
                (index, value)
            }
            // Several encrypted files go in as one, merged as helm merges values files; a plain
            // file between them would be out of order.
            Some((last, mut merged)) if last + 1 == index => {
                super::sops::merge_values(&mut merged, value);
                (index, merged)
            }
            Some(_) => {
                return Err(super::sops::SopsError::Unsupported {
                    file: display_path(&path),
                    message: "helm.values lists a plain values file between this and an earlier encrypted one; list the encrypted values files next to each other (they are handed to helm as one)".into(),
                }
                .into())
            }
        });
    }
    for (key, value) in &settings.set {
        args.push("--set".into());
        args.push(format!("{key}={value}"));
    }
    // The target cluster's version and APIs, as Argo CD passes them: charts choose apiVersions
    // with `.Capabilities` (policy/v1 PodDisruptionBudgets from 1.21, batch/v1 CronJobs, …),
    // and helm's defaults describe a recent cluster, not this one.
    if let Some(capabilities) = capabilities {
        if !capabilities.kube_version.is_empty() {
            args.push("--kube-version".into());
            args.push(capabilities.kube_version.clone());
        }
        if !capabilities.api_versions.is_empty() {
            args.push("--api-versions".into());
            args.push(capabilities.api_versions.join(","));
        }
    }
    let stdin = decrypted.map(|(_, value)| value.to_string());
    let stdout = super::runner::run_with_stdin(tools::HELM, &program, &args, stdin.as_deref())?;
    let mut manifests = parse_stream(&stdout, &shown)?;
    attribute_helm_sources(&stdout, &shown, &mut manifests);
    Ok(manifests)
}

/// A path as a renderer program gets it: as given, unless it lies in a revision written to a
/// temporary directory (then the display form would not resolve).
fn program_path(path: &Path) -> String {
    if crate::source::within_snapshot(path).is_some() {
        path.display().to_string()
    } else {
        display_path(path)
    }
}

/// helm marks each document with `# Source: chart/templates/x.yaml`; use it as the origin.
fn attribute_helm_sources(stdout: &str, chart: &str, manifests: &mut [Manifest]) {
    let sources: Vec<(usize, &str)> = stdout
        .lines()
        .enumerate()
        .filter_map(|(i, line)| line.strip_prefix("# Source: ").map(|s| (i + 1, s.trim())))
        .collect();
    for manifest in manifests {
        manifest.origin.via = Some("helm");
        let line = manifest.origin.line;
        if let Some((_, source)) = sources.iter().rev().find(|(at, _)| *at < line) {
            // The source starts with the chart's own name; show it below the chart's path.
            let inside = source.split_once('/').map_or(*source, |(_, rest)| rest);
            manifest.origin.file = format!("{chart}/{inside}");
        }
    }
}
