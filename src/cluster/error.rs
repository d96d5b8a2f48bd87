//! Cluster errors that say what failed, on which object, and what to do.
//!
//! Never includes credentials: messages carry the server URL, the user name the server reports
//! and the object, never a token or a Secret's values.

use std::fmt;

/// What gitops was doing when a request failed: a verb and an object description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub verb: &'static str,
    pub object: String,
}

impl Operation {
    pub fn new(verb: &'static str, object: impl Into<String>) -> Self {
        Operation {
            verb,
            object: object.into(),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.object)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot load the cluster configuration: {0}")]
    Config(String),
    #[error("cannot reach the API server at {server} ({operation}): {reason}; check that the cluster is up and the kubeconfig's server address is right")]
    Unreachable {
        server: String,
        operation: Operation,
        reason: String,
    },
    #[error("the API server at {server} rejected the credentials (401 Unauthorized) while trying to {operation}: the token or certificate is expired or wrong; refresh the kubeconfig's credentials")]
    Unauthorized {
        server: String,
        operation: Operation,
    },
    #[error("forbidden: cannot {operation}: {message}; ask for RBAC permission to {verb} it, or use a context that has it", verb = operation.verb)]
    Forbidden {
        operation: Operation,
        message: String,
    },
    #[error("{operation} failed: {message}")]
    Api {
        operation: Operation,
        code: u16,
        reason: String,
        message: String,
    },
}

impl ClusterError {
    /// Classifies a kube error that happened during `operation` against `server`.
    pub fn from_kube(error: kube::Error, server: &str, operation: Operation) -> Self {
        // A credential plugin that failed (at connect, or when the token was refreshed, which
        // kube reports as a failed request): its output may hold a credential, so it is
        // described, never quoted.
        if let Some(message) =
            super::exec_auth::explain(&error, || super::exec_auth::of_server(server))
        {
            return ClusterError::Config(format!("{message} (while trying to {operation})"));
        }
        match error {
            kube::Error::Api(status) => match status.code {
                401 => ClusterError::Unauthorized {
                    server: server.to_owned(),
                    operation,
                },
                // Not RBAC: the namespace is being deleted.
                403 if status.message.contains("is being terminated") => ClusterError::Api {
                    operation,
                    code: 403,
                    reason: status.reason,
                    message: format!(
                        "{}; wait until the namespace is gone, then run again",
                        status.message
                    ),
                },
                403 => ClusterError::Forbidden {
                    operation,
                    message: status.message,
                },
                code => ClusterError::Api {
                    operation,
                    code,
                    reason: status.reason,
                    message: status.message,
                },
            },
            other => ClusterError::Unreachable {
                server: server.to_owned(),
                operation,
                reason: root_cause(&other),
            },
        }
    }

    /// The server's words, if this is server-side apply's field-ownership conflict: a 409
    /// that names the other managers and their fields (other 409s: an object modified or
    /// created in between).
    pub fn field_conflict(&self) -> Option<&str> {
        match self {
            ClusterError::Api {
                code: 409, message, ..
            } if is_field_conflict(message) => Some(message),
            _ => None,
        }
    }

    /// The HTTP status of an API error, if the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Api { code, .. } => Some(*code),
            ClusterError::Unauthorized { .. } => Some(401),
            ClusterError::Forbidden { .. } => Some(403),
            _ => None,
        }
    }
}

fn is_field_conflict(message: &str) -> bool {
    message.starts_with("Apply failed with")
        && (message.contains("conflict with \"") || message.contains("conflicts with \""))
}

/// The innermost message of an error chain ("Connection refused (os error 111)").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_side_apply_conflicts_are_field_conflicts() {
        assert!(is_field_conflict(
            r#"Apply failed with 1 conflict: conflict with "x" using v1: .data.a"#
        ));
        assert!(is_field_conflict(
            "Apply failed with 2 conflicts: conflicts with \"x\" using apps/v1:\n- .spec.replicas"
        ));
        assert!(!is_field_conflict(
            r#"Operation cannot be fulfilled on configmaps "a": the object has been modified"#
        ));
    }
}
