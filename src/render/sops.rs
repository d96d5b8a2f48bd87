//! SOPS-encrypted files (docs/secrets.md): recognised by their `sops` metadata and decrypted
//! with the `sops` binary, whose plaintext comes back through a pipe and stays in memory. A
//! file without the metadata is read as it is.

use std::path::Path;

use serde_json::Value;

use super::display_path;
use super::tools::{self, Tool};

pub const SOPS: Tool = Tool {
    name: "sops",
    env: "GITOPS_SOPS",
    install: "install sops 3.x (https://github.com/getsops/sops/releases)",
};

/// Why an encrypted file could not be read. Never carries plaintext or a private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SopsError {
    #[error("{file} is encrypted with SOPS, and {hint}")]
    Missing { file: String, hint: String },
    #[error("{file} is encrypted with SOPS for {}, and none of their keys is available here: {}", .recipients.join(", "), .what_to_set)]
    NoKey {
        file: String,
        recipients: Vec<String>,
        what_to_set: String,
    },
    #[error("{file}: SOPS refused it: its MAC does not match its content (the file was changed after it was encrypted, or is corrupt); re-encrypt it with sops")]
    Tampered { file: String },
    #[error("{file}: sops could not decrypt it: {message}")]
    Failed { file: String, message: String },
    #[error("{file}: {message}")]
    Unsupported { file: String, message: String },
}

/// Whether the text carries SOPS metadata: a top-level `sops` mapping with a `mac`, in any of
/// its documents. Cheap when it does not mention `sops` at all.
pub fn is_encrypted(text: &str) -> bool {
    if !text.contains("sops") || !text.contains("mac") {
        return false;
    }
    let Ok(documents) = crate::yaml::load_documents(text) else {
        return false;
    };
    documents
        .iter()
        .any(|d| d.value.pointer("/sops/mac").is_some())
}

/// Whether a dotenv file carries SOPS metadata (`sops_mac=…`).
fn is_encrypted_dotenv(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("sops_mac=ENC["))
}

/// The SOPS-encrypted files under `paths` (files, or directories read recursively, hidden
/// entries skipped), in any format sops writes: YAML, JSON, dotenv.
pub fn encrypted_files(paths: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    fn visit(path: &Path, found: &mut Vec<std::path::PathBuf>, depth: usize) {
        if depth > 32 {
            return;
        }
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            entries.sort();
            for entry in entries {
                let hidden = entry
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if !hidden {
                    visit(&entry, found, depth + 1);
                }
            }
        } else if path.metadata().is_ok_and(|m| m.len() <= 16 * 1024 * 1024) {
            if let Ok(text) = std::fs::read_to_string(path) {
                if (is_encrypted(&text) || is_encrypted_dotenv(&text))
                    && !found.iter().any(|f| f == path)
                {
                    found.push(path.to_path_buf());
                }
            }
        }
    }
    let mut found = Vec::new();
    for path in paths {
        visit(path, &mut found, 0);
    }
    found
}

/// The plaintext of an encrypted file, from sops' stdout.
pub fn decrypt(path: &Path, text: &str) -> Result<String, SopsError> {
    let file = display_path(path);
    let program = SOPS.locate().ok_or_else(|| SopsError::Missing {
        file: file.clone(),
        hint: SOPS.missing_hint(),
    })?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "json",
        Some("env") => "dotenv",
        _ if is_encrypted_dotenv(text) => "dotenv",
        _ => "yaml",
    };
    let args = [
        "decrypt",
        "--input-type",
        format,
        "--output-type",
        format,
        &path.display().to_string(),
    ]
    .map(str::to_owned);
    crate::log::verbose(&format!("decrypting {file} with sops"));
    let output = tools::run_with_env(&program, &args, &[("SOPS_DISABLE_VERSION_CHECK", "1")])
        .map_err(|e| SopsError::Failed {
            file: file.clone(),
            message: e.to_string(),
        })?;
    if output.status.success() {
        return String::from_utf8(output.stdout).map_err(|_| SopsError::Failed {
            file,
            message: "its plaintext is not UTF-8".into(),
        });
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Failed to get the data key") {
        let recipients = recipients(text);
        // A key file that is named but missing is the likelier cause than a wrong key.
        let missing_file = std::env::var_os("SOPS_AGE_KEY_FILE")
            .filter(|f| !f.is_empty() && !Path::new(f).is_file())
            .map(|f| {
                format!(
                    "SOPS_AGE_KEY_FILE names {}, which is not a file; ",
                    Path::new(&f).display()
                )
            });
        return Err(SopsError::NoKey {
            file,
            what_to_set: format!(
                "{}{}",
                missing_file.unwrap_or_default(),
                what_to_set(&recipients)
            ),
            recipients: recipients.into_iter().map(|(_, shown)| shown).collect(),
        });
    }
    if stderr.contains("MAC mismatch") || stderr.contains("message authentication failed") {
        return Err(SopsError::Tampered { file });
    }
    // sops' own words, first line only: its longer reports are about keys, never values.
    let message = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_owned();
    Err(SopsError::Failed { file, message })
}

/// A decrypted values file as one document (a file with none is an empty map).
pub fn values_document(path: &Path, plaintext: &str) -> Result<Value, SopsError> {
    let documents = crate::yaml::load_documents(plaintext).map_err(|e| SopsError::Failed {
        file: display_path(path),
        message: format!("its plaintext is not YAML ({})", e.message),
    })?;
    Ok(documents
        .into_iter()
        .next()
        .map_or_else(|| Value::Object(Default::default()), |d| d.value))
}

/// Merges `over` into `base` as helm merges values files: maps key by key, anything else
/// replaced by the later file.
pub fn merge_values(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge_values(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// The public recipients a file's metadata names, with their kind: age recipients, PGP
/// fingerprints, KMS key ARNs and resource ids, Vault transit keys.
pub fn recipients(text: &str) -> Vec<(&'static str, String)> {
    let Ok(documents) = crate::yaml::load_documents(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for document in &documents {
        let Some(sops) = document.value.get("sops") else {
            continue;
        };
        let mut groups: Vec<&Value> = vec![sops];
        if let Some(Value::Array(key_groups)) = sops.get("key_groups") {
            groups.extend(key_groups.iter());
        }
        for group in groups {
            for (kind, list, field) in [
                ("age", "age", "recipient"),
                ("pgp", "pgp", "fp"),
                ("aws-kms", "kms", "arn"),
                ("gcp-kms", "gcp_kms", "resource_id"),
                ("vault", "hc_vault", "vault_address"),
            ] {
                if let Some(Value::Array(keys)) = group.get(list) {
                    for key in keys {
                        if let Some(id) = key.get(field).and_then(Value::as_str) {
                            let shown = match (kind, key.get("key_name").and_then(Value::as_str)) {
                                ("vault", Some(name)) => format!("vault {id} key {name}"),
                                _ => format!("{kind} {id}"),
                            };
                            if !found.iter().any(|(_, s)| *s == shown) {
                                found.push((kind, shown));
                            }
                        }
                    }
                }
            }
            if let Some(Value::Array(keys)) = group.get("azure_kv") {
                for key in keys {
                    if let (Some(url), Some(name)) = (
                        key.get("vault_url").and_then(Value::as_str),
                        key.get("name").and_then(Value::as_str),
                    ) {
                        found.push(("azure-kv", format!("azure-kv {url} key {name}")));
                    }
                }
            }
        }
    }
    found
}

/// What to set for the kinds of keys a file names.
fn what_to_set(recipients: &[(&'static str, String)]) -> String {
    let mut hints: Vec<&str> = Vec::new();
    for (kind, _) in recipients {
        let hint = match *kind {
            "age" => "set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to the private key of one of the age recipients",
            "pgp" => "import one of the PGP keys into the gpg keyring (GNUPGHOME)",
            "aws-kms" => "give this job AWS credentials allowed to decrypt with the KMS key",
            "gcp-kms" => "give this job Google credentials (GOOGLE_APPLICATION_CREDENTIALS) allowed to decrypt with the key",
            "azure-kv" => "give this job Azure credentials (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET) allowed to use the key",
            _ => "set VAULT_ADDR and VAULT_TOKEN for the Vault transit key",
        };
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    if hints.is_empty() {
        "the file names no recipients sops can use".to_owned()
    } else {
        hints.join("; or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENCRYPTED: &str = "apiVersion: v1\nkind: Secret\nstringData:\n    password: ENC[AES256_GCM,data:T0op,iv:x,tag:y,type:str]\nsops:\n    age:\n        - recipient: age1c5ng99m8amqquy2ckdmwnv34zxpn9d03y7h0qfl52eeydfm8u4mqfsgz34\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YWdl\n            -----END AGE ENCRYPTED FILE-----\n    pgp:\n        - fp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21\n    lastmodified: \"2026-12-06T03:14:55Z\"\n    mac: ENC[AES256_GCM,data:Zm,iv:X,tag:9,type:str]\n    version: 3.11.0\n";

    #[test]
    fn only_files_with_sops_metadata_are_encrypted() {
        assert!(is_encrypted(ENCRYPTED));
        assert!(!is_encrypted(
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  sops: no mac here\n"
        ));
        assert!(!is_encrypted(
            "kind: ConfigMap\ndata: {tool: sops, mac: yes}\n"
        ));
    }

    #[test]
    fn recipients_are_public_ids_with_what_to_set() {
        let found = recipients(ENCRYPTED);
        assert_eq!(
            found,
            [
                (
                    "age",
                    "age age1c5ng99m8amqquy2ckdmwnv34zxpn9d03y7h0qfl52eeydfm8u4mqfsgz34".to_owned()
                ),
                (
                    "pgp",
                    "pgp 85D77543B3D624B63CEA9E6DBC17301B491B3F21".to_owned()
                ),
            ]
        );
        let hint = what_to_set(&found);
        assert!(
            hint.starts_with("set SOPS_AGE_KEY_FILE") && hint.contains("GNUPGHOME"),
            "{hint}"
        );
    }
}
