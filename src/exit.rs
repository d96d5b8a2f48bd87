//! The exit codes of SPEC.md: the pipeline gate.

/// What a run tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `diff`, the cluster already matches Git.
    Success = 0,
    /// Invalid input, renderer failed, cluster unreachable or forbidden, apply failed.
    Error = 1,
    /// `diff` found changes.
    Changes = 2,
    /// `apply` wrote everything but objects did not become healthy in time.
    Unhealthy = 3,
    /// `--fail-on-destructive` and the plan deletes or prunes something (apply: nothing was
    /// written).
    Destructive = 4,
    /// Unknown flag or bad value. Never 2, which means "changes".
    Usage = 64,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error caused by how the command was called (exit 64), not by its input or the cluster.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
