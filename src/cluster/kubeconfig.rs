//! Reading kubeconfig files as kubectl does (merged `KUBECONFIG` lists, the chosen context),
//! for the connection and for explaining a credential plugin's failure.

use std::path::{Path, PathBuf};

use kube::config::{Context, Kubeconfig, KubeconfigError};

/// The kubeconfig as kubectl reads it: `--kubeconfig`, else the files `KUBECONFIG` lists,
/// merged in order, else `~/.kube/config`.
pub fn read(kubeconfig: Option<&Path>) -> Result<Kubeconfig, KubeconfigError> {
    match kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => from_env_list().unwrap_or_else(Kubeconfig::read),
    }
}

/// The files `KUBECONFIG` lists, merged in order, skipping those that do not exist (as kubectl
/// does: CI jobs often list `~/.kube/config` and a job's own file, one of them missing). None
/// when it lists no existing file; kube then reads as usual and names the missing file.
pub fn from_env_list() -> Option<Result<Kubeconfig, KubeconfigError>> {
    let value = std::env::var_os("KUBECONFIG")?;
    let existing: Vec<PathBuf> = std::env::split_paths(&value)
        .filter(|p| !p.as_os_str().is_empty() && p.is_file())
        .collect();
    let (first, rest) = existing.split_first()?;
    Some(Kubeconfig::read_from(first).and_then(|first| {
        rest.iter().try_fold(first, |merged, path| {
            merged.merge(Kubeconfig::read_from(path)?)
        })
    }))
}

/// The context `--context` names, else the kubeconfig's current one.
pub fn chosen_context<'a>(config: &'a Kubeconfig, context: Option<&str>) -> Option<&'a Context> {
    let name = context.or(config.current_context.as_deref())?;
    config
        .contexts
        .iter()
        .find(|c| c.name == name)?
        .context
        .as_ref()
}
