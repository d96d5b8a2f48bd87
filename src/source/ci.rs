//! The CI job a run belongs to, from the variables GitHub Actions and GitLab CI set, for the
//! inventory's history.

/// Who ran an apply, and from which job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    pub user: Option<String>,
    /// The pipeline or job URL, when the run is a CI job.
    pub job_url: Option<String>,
}

fn var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// The current run's user and CI job.
pub fn run_context() -> RunContext {
    if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        let job_url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                let attempt = var("GITHUB_RUN_ATTEMPT")
                    .map(|a| format!("/attempts/{a}"))
                    .unwrap_or_default();
                Some(format!(
                    "{}/{repo}/actions/runs/{run}{attempt}",
                    server.trim_end_matches('/')
                ))
            }
            _ => None,
        };
        return RunContext {
            user: var("GITHUB_ACTOR").or_else(local_user),
            job_url,
        };
    }
    if var("GITLAB_CI").as_deref() == Some("true") {
        return RunContext {
            user: var("GITLAB_USER_LOGIN").or_else(local_user),
            job_url: var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL")),
        };
    }
    RunContext {
        user: local_user(),
        job_url: None,
    }
}

fn local_user() -> Option<String> {
    var("USER").or_else(|| var("LOGNAME"))
}
