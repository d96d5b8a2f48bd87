//! The kubeconfig's view of the default namespace, which `render` needs for Helm's release
//! namespace and for object identities, without contacting a cluster.

use std::path::Path;

use kube::config::Kubeconfig;

/// The namespace of the chosen (or current) context of the kubeconfig, if it names one.
///
/// Resolution follows kubectl: `--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`.
/// A missing or unreadable kubeconfig simply gives no namespace here; commands that talk to
/// a cluster report it properly.
pub fn context_namespace(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    let config = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            crate::log::verbose(&format!(
                "no kubeconfig read for the default namespace: {}",
                super::client::safe_message(&e)
            ));
            return None;
        }
    };
    let name = context
        .map(str::to_owned)
        .or_else(|| config.current_context.clone())?;
    config
        .contexts
        .iter()
        .find(|c| c.name == name)?
        .context
        .as_ref()?
        .namespace
        .clone()
}
