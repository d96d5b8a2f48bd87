//! Running a renderer (helm, kustomize, kubectl kustomize): its errors said for people, and the
//! command line as messages and `-v` show it, with `--set` values hidden.

use std::path::Path;

use super::tools::{self, Tool};
use super::{utf8, RenderError};
use crate::log;

pub(super) fn run(tool: Tool, program: &Path, args: &[String]) -> Result<String, RenderError> {
    run_with_stdin(tool, program, args, None)
}

/// `run` in directory `cwd` (so that a path that must not be shown is not an argument).
pub(super) fn run_in(
    tool: Tool,
    program: &Path,
    args: &[String],
    cwd: &Path,
) -> Result<String, RenderError> {
    let command = display_command(tool, args);
    log::verbose(&format!("running {command}"));
    let output = tools::run(program, args, Some(cwd)).map_err(|e| RenderError::RendererFailed {
        command: command.clone(),
        status: String::new(),
        stderr: e.to_string(),
    })?;
    finish(command, output)
}

/// `run`, handing the program `stdin` (decrypted values: they go through a pipe, never a file).
pub(super) fn run_with_stdin(
    tool: Tool,
    program: &Path,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, RenderError> {
    let command = display_command(tool, args);
    log::verbose(&format!("running {command}"));
    let output = match stdin {
        Some(input) => tools::run_with_stdin(program, args, input),
        None => tools::run(program, args, None),
    }
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RenderError::RendererMissing(tool.missing_hint()),
        _ => RenderError::RendererFailed {
            command: command.clone(),
            status: String::new(),
            stderr: e.to_string(),
        },
    })?;
    finish(command, output)
}

/// A finished program's stdout, or its failure said for people.
fn finish(command: String, output: std::process::Output) -> Result<String, RenderError> {
    if !output.status.success() {
        let status = output.status.code().map_or_else(
            || " (killed by a signal)".to_owned(),
            |c| format!(" (exit code {c})"),
        );
        return Err(RenderError::RendererFailed {
            command,
            status,
            stderr: without_debug_hint(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    utf8(output.stdout, &format!("output of {command}"))
}

/// A renderer's stderr, less helm's "Use --debug flag to render out invalid YAML": gitops
/// users cannot pass that flag, and `-v` already shows the command.
fn without_debug_hint(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| !line.starts_with("Use --debug flag to render out invalid YAML"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

/// The command line as shown in messages and `-v`: `--set` values are hidden, because they
/// may end up in a Secret (SPEC.md, Secrets), and gitops cannot tell which ones do.
fn display_command(tool: Tool, args: &[String]) -> String {
    let mut shown = vec![tool.name.to_owned()];
    let mut previous = "";
    for arg in args {
        shown.push(match arg.split_once('=') {
            Some((key, _)) if previous == "--set" => format!("{key}={}", crate::mask::HIDDEN),
            // Hundreds of entries: their number says enough.
            _ if previous == "--api-versions" => {
                format!("<{} API versions of the cluster>", arg.split(',').count())
            }
            // A chart repository's URL may carry a password.
            _ if arg.contains("://") => crate::source::redact_url(arg),
            _ => arg.clone(),
        });
        previous = arg;
    }
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_hidden_in_the_command_shown() {
        let args: Vec<String> = [
            "template",
            "web",
            ".",
            "--set",
            "auth.key=s3cret",
            "--values",
            "v=1.yaml",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            display_command(tools::HELM, &args),
            "helm template web . --set auth.key=<hidden> --values v=1.yaml"
        );
        let add = [
            "repo",
            "add",
            "x",
            "https://bot:s3cret@charts.example.com/stable",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            display_command(tools::HELM, &add),
            "helm repo add x https://charts.example.com/stable"
        );
    }
}
