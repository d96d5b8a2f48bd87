//! The kubeconfig's view of the default namespace, which `render` needs for Helm's release
//! namespace and for object identities, without contacting a cluster.

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

/// The namespace of the chosen (or current) context of the kubeconfig, if it names one.
///
/// Resolution follows kubectl: `--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`.
/// A missing or unreadable kubeconfig simply gives no namespace here; commands that talk to
/// a cluster report it properly.
pub fn context_namespace(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    let config = match read(kubeconfig) {
        Ok(config) => config,
        Err(e) => {
            crate::log::verbose(&format!(
                "no kubeconfig read for the default namespace: {}",
                super::client::safe_message(&e)
            ));
            return None;
        }
    };
    chosen_context(&config, context)?.namespace.clone()
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
