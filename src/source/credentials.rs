//! Tokens for HTTPS remotes, from the environment, and keeping them out of every message.

/// Where a token may come from, in order, with the user name its service expects.
const TOKEN_VARIABLES: [(&str, &str); 3] = [
    ("GITOPS_GIT_TOKEN", "gitops"),
    ("GITHUB_TOKEN", "x-access-token"),
    ("CI_JOB_TOKEN", "gitlab-ci-token"),
];

/// A token and the variable it came from (the name may be printed, the value never).
#[derive(Clone)]
pub struct Token {
    pub variable: &'static str,
    pub username: String,
    pub secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(from {})", self.variable)
    }
}

/// The first token set in the environment; `GITOPS_GIT_USERNAME` overrides the user name.
pub fn token_from_env() -> Option<Token> {
    let (variable, username) = TOKEN_VARIABLES.iter().find_map(|(var, user)| {
        let value = std::env::var(var).ok()?;
        (!value.trim().is_empty()).then_some((*var, *user))
    })?;
    let secret = std::env::var(variable).ok()?.trim().to_owned();
    let username = std::env::var("GITOPS_GIT_USERNAME")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| username.to_owned());
    Some(Token {
        variable,
        username,
        secret,
    })
}

/// `url` without its user info (`https://user:pass@host/x` → `https://host/x`), for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_owned(),
    }
}

/// `text` with every secret (token, password in the URL) replaced, for errors from the Git
/// library, which may quote what it was given.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, "<redacted>")
        })
}

/// The password of a URL's user info, if it carries one.
pub fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, p)| p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_info_and_secrets_are_scrubbed() {
        assert_eq!(
            redact_url("https://me:s3cret@example.com/org/repo.git"),
            "https://example.com/org/repo.git"
        );
        assert_eq!(
            redact_url("https://example.com/a@b"),
            "https://example.com/a@b"
        );
        assert_eq!(redact_url("/some/path"), "/some/path");
        assert_eq!(
            url_password("https://me:s3cret@example.com/x").as_deref(),
            Some("s3cret")
        );
        assert_eq!(url_password("https://example.com/x"), None);
        assert_eq!(
            scrub("denied for s3cret!", &["s3cret"]),
            "denied for <redacted>!"
        );
    }
}
