//! `--repo URL --ref REF`: the repository at REF, written into a temporary directory. Local
//! repositories (a path or `file://`) are read in place; remote ones are cloned shallow.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::credentials::{self, Token};
use super::{tree, Revision, SourceError};
use crate::log;

/// A revision of a repository, written to `root` (removed when this is dropped).
pub struct Snapshot {
    pub root: PathBuf,
    pub revision: Revision,
    _dir: tempfile::TempDir,
}

/// The tree of `reference` (branch, tag, commit id or any revision of a local repository;
/// default: the remote's HEAD) of the repository at `url`.
pub fn snapshot(url: &str, reference: Option<&str>) -> Result<Snapshot, SourceError> {
    let dir = tempfile::Builder::new()
        .prefix("gitops-source-")
        .tempdir()
        .map_err(|e| SourceError::Io(format!("creating a temporary directory: {e}")))?;
    let root = dir.path().join("tree");
    let (repo, commit) = match local_path(url) {
        Some(path) => {
            let repo = gix::open(&path).map_err(|e| SourceError::Open {
                url: credentials::redact_url(url),
                reason: if path.exists() {
                    first_message(&e.to_string())
                } else {
                    "no such directory".to_owned()
                },
            })?;
            let commit = resolve(&repo, reference.unwrap_or("HEAD"))?;
            (repo, commit)
        }
        None => fetch(url, reference, &dir.path().join("repo.git"))?,
    };
    std::fs::create_dir_all(&root).map_err(|e| SourceError::Io(e.to_string()))?;
    tree::write_tree(&repo, commit, &root)?;
    // The canonical form, so that paths under it compare equal to what canonicalize gives.
    let root = root.canonicalize().unwrap_or(root);
    super::remember_snapshot(&root);
    let revision = super::describe(
        &repo
            .find_commit(commit)
            .map_err(|e| SourceError::Io(e.to_string()))?,
    );
    log::verbose(&format!(
        "source: {} at {} ({})",
        credentials::redact_url(url),
        reference.unwrap_or("HEAD"),
        revision.commit
    ));
    Ok(Snapshot {
        root,
        revision,
        _dir: dir,
    })
}

/// The commit a revision names in a repository that is already here.
pub fn resolve(repo: &gix::Repository, reference: &str) -> Result<gix::ObjectId, SourceError> {
    let unknown = || SourceError::UnknownRef {
        reference: reference.to_owned(),
    };
    let id = repo
        .rev_parse_single(reference)
        .map_err(|_| unknown())?
        .object()
        .map_err(|_| unknown())?
        .peel_to_commit()
        .map_err(|_| unknown())?
        .id;
    Ok(id)
}

/// A local repository: an existing path, or a `file://` URL.
fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    let looks_remote = url.contains("://") || is_scp_like(url);
    (!looks_remote).then(|| PathBuf::from(url))
}

/// `git@host:org/repo.git`
fn is_scp_like(url: &str) -> bool {
    match url.split_once(':') {
        Some((host, _)) => !host.contains('/') && host.contains('@'),
        None => false,
    }
}

fn is_commit_id(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Clones `url` bare and shallow into `dest`, fetching only `reference`.
fn fetch(
    url: &str,
    reference: Option<&str>,
    dest: &Path,
) -> Result<(gix::Repository, gix::ObjectId), SourceError> {
    // reqwest (gix's HTTPS) uses the process's rustls provider: ring, as kube does. Installing
    // it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shown = credentials::redact_url(url);
    let token = credentials::token_from_env();
    let url_secret = credentials::url_password(url);
    let secrets: Vec<String> = token
        .iter()
        .map(|t| t.secret.clone())
        .chain(url_secret)
        .collect();
    let fail = |e: &dyn std::fmt::Display| {
        let text = credentials::scrub(
            &format!("{e:#}"),
            &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        classify(&shown, reference, token.as_ref(), text)
    };
    let mut prepare = gix::prepare_clone_bare(url, dest).map_err(|e| fail(&e))?;
    prepare = match reference {
        Some(r) if is_commit_id(r) => prepare.with_revision(Some(r)),
        Some(r) => prepare.with_ref_name(Some(r)),
        None => Ok(prepare),
    }
    .map_err(|e| fail(&e))?;
    let connection_token = token.clone();
    let mut prepare = prepare
        .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
            std::num::NonZeroU32::MIN,
        ))
        .configure_connection(move |connection| {
            // Our own answer, always: never a prompt or a credential helper program.
            let token = connection_token.clone();
            connection.set_credentials(move |action| answer(action, token.as_ref()));
            Ok(())
        });
    log::verbose(&format!(
        "cloning {shown} ({}){}",
        reference.unwrap_or("HEAD"),
        token
            .as_ref()
            .map(|t| format!(" with the token from {}", t.variable))
            .unwrap_or_default()
    ));
    let (repo, _) = prepare
        .fetch_only(gix::progress::Discard, &AtomicBool::new(false))
        .map_err(|e| fail(&e))?;
    let commit = match reference {
        Some(r) if is_commit_id(r) => {
            gix::ObjectId::from_hex(r.as_bytes()).map_err(|_| SourceError::UnknownRef {
                reference: r.to_owned(),
            })?
        }
        _ => repo.head_commit().map_err(|e| fail(&e))?.id,
    };
    Ok((repo, commit))
}

fn answer(
    action: gix::credentials::helper::Action,
    token: Option<&Token>,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    match (action, token) {
        (gix::credentials::helper::Action::Get(context), Some(token)) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: token.username.clone(),
                    password: token.secret.clone(),
                    oauth_refresh_token: None,
                },
                next: context.into(),
            }))
        }
        _ => Ok(None),
    }
}

/// One clear error per way a clone fails, from the Git library's text (already scrubbed).
fn classify(
    url: &str,
    reference: Option<&str>,
    token: Option<&Token>,
    text: String,
) -> SourceError {
    let lower = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let unreachable = |reason: &str| SourceError::Unreachable {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if has(&[
        "certificate",
        "unknownissuer",
        "invalidcertificate",
        "tls handshake",
    ]) {
        return unreachable(
            "its TLS certificate is not trusted here (for a private CA, point SSL_CERT_FILE at a bundle that holds it)",
        );
    }
    if has(&["connectionrefused", "connection refused"]) {
        return unreachable("connection refused");
    }
    if has(&["dns error", "failed to lookup", "name or service not known"]) {
        return unreachable("the host name does not resolve");
    }
    if has(&["timed out", "timedout"]) {
        return unreachable("the connection timed out");
    }
    if has(&["401", "403", "authenticat", "credential"]) {
        return SourceError::Rejected {
            url: url.to_owned(),
            token: token.map(|t| t.variable),
        };
    }
    if let Some(reference) = reference {
        if has(&[
            "didn't have any ref",
            "not find",
            "couldn't find",
            "not our ref",
            "no such",
        ]) {
            return SourceError::UnknownRef {
                reference: reference.to_owned(),
            };
        }
    }
    if has(&[
        "could not verify that",
        "not a valid git directory",
        "does not appear to be a git repository",
        "repository not found",
        "404",
    ]) {
        return SourceError::Open {
            url: url.to_owned(),
            reason: "no Git repository there".to_owned(),
        };
    }
    unreachable(&first_message(&text))
}

/// The first human message in the Git library's error text (its Debug form nests them).
fn first_message(text: &str) -> String {
    let quoted = text
        .split_once("message: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(message, _)| message.to_owned());
    quoted.unwrap_or_else(|| text.lines().next().unwrap_or(text).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str, reference: Option<&str>) -> String {
        classify("https://h/r.git", reference, None, text.to_owned()).to_string()
    }

    #[test]
    fn clone_failures_become_one_clear_sentence() {
        assert!(
            reason("Os { code: 111, kind: ConnectionRefused }", Some("main"))
                .contains("connection refused")
        );
        assert!(
            reason("invalid peer certificate: UnknownIssuer", Some("main"))
                .contains("SSL_CERT_FILE")
        );
        assert!(reason("http status 401", Some("main")).contains("refused the credentials"));
        assert!(reason(
            "The remote didn't have any ref that matched 'nope'",
            Some("nope")
        )
        .contains("\"nope\" does not exist"));
        assert_eq!(
            first_message("Message { message: \"Transport handshake failed\" }\nCaused by: x"),
            "Transport handshake failed"
        );
    }
}
