//! Failures of a kubeconfig credential plugin (`users[].user.exec`: gke-gcloud-auth-plugin,
//! `aws eks get-token`, kubelogin), said for people and without the plugin's output: what a
//! plugin prints on stdout is a credential, and kube's own messages quote it.

use std::path::Path;

use kube::client::AuthError;

/// The plugin's program and install hint, from the kubeconfig (as `connect` reads it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plugin {
    pub command: Option<String>,
    pub install_hint: Option<String>,
}

impl Plugin {
    /// The exec plugin of the context's user, if the kubeconfig can be read and has one.
    pub fn of(kubeconfig: Option<&Path>, context: Option<&str>) -> Plugin {
        let Ok(config) = super::kubeconfig::read(kubeconfig) else {
            return Plugin::default();
        };
        let user = super::kubeconfig::chosen_context(&config, context).and_then(|c| c.user.clone());
        let exec = config
            .auth_infos
            .iter()
            .find(|a| Some(&a.name) == user.as_ref())
            .and_then(|a| a.auth_info.as_ref())
            .and_then(|a| a.exec.as_ref());
        Plugin {
            command: exec.and_then(|e| e.command.clone()),
            install_hint: exec.and_then(|e| e.install_hint.clone()),
        }
    }
}

/// Where each server this run connected to got its credentials (a run may plan targets on
/// several clusters): the kubeconfig and context, read again only to explain a failure of a
/// later request, which knows the server only.
type Origin = (String, Option<std::path::PathBuf>, Option<String>);
static CONNECTED: std::sync::Mutex<Vec<Origin>> = std::sync::Mutex::new(Vec::new());

/// Keeps where the credentials for `server` come from.
pub fn remember(server: &str, kubeconfig: Option<&Path>, context: Option<&str>) {
    if let Ok(mut connected) = CONNECTED.lock() {
        connected.retain(|(known, ..)| known != server);
        connected.push((
            server.to_owned(),
            kubeconfig.map(Path::to_path_buf),
            context.map(str::to_owned),
        ));
    }
}

/// The plugin that authenticates requests to `server`, if one does.
pub fn of_server(server: &str) -> Plugin {
    let origin = CONNECTED.lock().ok().and_then(|connected| {
        connected
            .iter()
            .find(|(known, ..)| known == server)
            .cloned()
    });
    match origin {
        Some((_, kubeconfig, context)) => Plugin::of(kubeconfig.as_deref(), context.as_deref()),
        None => Plugin::default(),
    }
}

/// What went wrong, if `error` (or one of its causes) is a credential plugin's failure.
/// `plugin` is asked only then: finding it may read the kubeconfig again.
pub fn explain(
    error: &(dyn std::error::Error + 'static),
    plugin: impl FnOnce() -> Plugin,
) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        let auth = e
            .downcast_ref::<AuthError>()
            .or(match e.downcast_ref::<kube::Error>() {
                Some(kube::Error::Auth(auth)) => Some(auth),
                _ => None,
            });
        if let Some(auth) = auth {
            return describe(auth, &plugin());
        }
        current = e.source();
    }
    None
}

fn describe(error: &AuthError, plugin: &Plugin) -> Option<String> {
    let name = plugin.command.as_deref().map_or_else(
        || "the kubeconfig's credential plugin".to_owned(),
        |c| format!("the kubeconfig's credential plugin `{c}`"),
    );
    let hint = plugin
        .install_hint
        .as_deref()
        .map(|h| format!(": {}", h.trim()))
        .unwrap_or_default();
    Some(match error {
        AuthError::AuthExecStart(io) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("{name} is not installed or not on PATH{hint}")
        }
        AuthError::AuthExecStart(io) => format!("{name} could not be started ({io})"),
        AuthError::AuthExecRun { out, .. } => format!(
            "{name} failed ({}); run it by hand to see why, or log in again (its output is not shown: it may hold a credential)",
            out.status
        ),
        AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed => format!(
            "{name} gave no credential gitops could read (an ExecCredential with a status); its output is not shown: it may hold a credential"
        ),
        AuthError::AuthExec(_) | AuthError::AuthExecSerialize(_) | AuthError::MissingCommand => {
            format!("{name} could not be used: {error}")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_failure(stdout: &str) -> AuthError {
        use std::os::unix::process::ExitStatusExt;
        AuthError::AuthExecRun {
            cmd: "plugin".into(),
            out: Box::new(std::process::Output {
                status: std::process::ExitStatus::from_raw(256),
                stdout: stdout.as_bytes().to_vec(),
                stderr: Vec::new(),
            }),
        }
    }

    #[test]
    fn a_failed_plugin_is_named_and_its_output_never_shown() {
        let plugin = Plugin {
            command: Some("gke-gcloud-auth-plugin".into()),
            install_hint: None,
        };
        let token = "ya29.secret-token-value";
        let kube_says = run_failure(&format!("{{\"status\":{{\"token\":\"{token}\"}}}}"));
        assert!(
            kube_says.to_string().contains(token),
            "kube's own message quotes it"
        );
        let ours = explain(&kube_says, || plugin.clone()).unwrap();
        assert!(
            ours.contains("`gke-gcloud-auth-plugin` failed (exit status: 1)"),
            "{ours}"
        );
        assert!(!ours.contains(token), "{ours}");
    }

    #[test]
    fn a_missing_plugin_gets_its_install_hint() {
        let plugin = Plugin {
            command: Some("aws".into()),
            install_hint: Some("Install the AWS CLI\n".into()),
        };
        let missing = AuthError::AuthExecStart(std::io::ErrorKind::NotFound.into());
        assert_eq!(
            explain(&missing, || plugin.clone()).as_deref(),
            Some("the kubeconfig's credential plugin `aws` is not installed or not on PATH: Install the AWS CLI")
        );
        let refreshed = kube::Error::Service(Box::new(AuthError::ExecPluginFailed));
        assert!(
            explain(&refreshed, Plugin::default).is_some(),
            "as a failed request"
        );
        let wrapped = kube::Error::Auth(AuthError::ExecPluginFailed);
        assert!(explain(&wrapped, Plugin::default)
            .unwrap()
            .starts_with("the kubeconfig's credential plugin gave no credential"));
    }
}
