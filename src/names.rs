//! Name rules and stable digests, in one place: the API server's rules for object names,
//! label keys and values (checked before anything reaches a cluster), the rule that turns a
//! directory into an inventory name, and the file name gitops reserves for its configuration.

/// The configuration file: gitops.yaml (never rendered as a manifest).
pub const CONFIG_FILE_NAME: &str = "gitops.yaml";

/// Name rules of the API server: DNS labels for Namespaces and Services, path segments for
/// RBAC objects (which allow `system:` names), DNS subdomains for everything else.
pub fn invalid_name(group: &str, kind: &str, name: &str) -> Option<String> {
    match (group, kind) {
        ("", "Namespace" | "Service") => invalid_dns_label(name),
        ("rbac.authorization.k8s.io", _) => invalid_path_segment(name),
        _ => invalid_dns_subdomain(name),
    }
}

pub fn invalid_path_segment(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name == "." || name == ".." {
        return Some("must not be \".\" or \"..\"".into());
    }
    name.contains(['/', '%'])
        .then(|| "must not contain '/' or '%'".into())
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub fn invalid_dns_label(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 63 {
        return Some("must be 1 to 63 characters".into());
    }
    let ok = name.chars().all(|c| is_lower_alnum(c) || c == '-')
        && name.starts_with(is_lower_alnum)
        && name.ends_with(is_lower_alnum);
    (!ok).then(|| {
        "must consist of lower case letters, digits and '-', and start and end with a letter or digit".into()
    })
}

pub fn invalid_dns_subdomain(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 253 {
        return Some("must be 1 to 253 characters".into());
    }
    let ok = name.split('.').all(|part| {
        !part.is_empty()
            && part.chars().all(|c| is_lower_alnum(c) || c == '-')
            && part.starts_with(is_lower_alnum)
            && part.ends_with(is_lower_alnum)
    });
    (!ok).then(|| {
        "must consist of lower case letters, digits, '-' and '.', and start and end with a letter or digit".into()
    })
}

/// Label and annotation keys: an optional DNS-subdomain prefix, `/`, and a name of 1–63 chars.
pub fn invalid_qualified_name(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(why) = prefix.and_then(invalid_dns_subdomain) {
        return Some(format!("prefix {why}"));
    }
    if name.is_empty() || name.len() > 63 {
        return Some("name part must be 1 to 63 characters".into());
    }
    invalid_label_chars(name)
}

pub fn invalid_label_value(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 {
        return Some("must be at most 63 characters".into());
    }
    invalid_label_chars(value)
}

pub fn invalid_label_chars(text: &str) -> Option<String> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = text
        .chars()
        .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && text.starts_with(alnum)
        && text.ends_with(alnum);
    (!ok).then(|| {
        "must consist of letters, digits, '-', '_' and '.', and start and end with a letter or digit".into()
    })
}

/// `apps/shop` → `apps-shop`. Text that is not already a valid name is lowercased, cleaned and
/// given a short digest of the original, so that two directories never share a name by accident.
pub fn inventory_name(relative: &str) -> String {
    let dashed = relative.replace('/', "-");
    if invalid_dns_label(&dashed).is_none() {
        return dashed;
    }
    let cleaned: String = dashed
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut base = cleaned.trim_matches('-').to_owned();
    base.truncate(54);
    let base = base.trim_end_matches('-');
    let digest = format!("{:08x}", fnv1a(relative.as_bytes()) as u32);
    if base.is_empty() {
        format!("t-{digest}")
    } else {
        format!("{base}-{digest}")
    }
}

/// A stable 64-bit FNV-1a digest (std's hasher may change between Rust releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_names_follow_the_rule_and_never_collide_by_accident() {
        assert_eq!(inventory_name("apps/shop"), "apps-shop");
        assert_eq!(inventory_name("apps/overlays/prod"), "apps-overlays-prod");
        let a = inventory_name("apps/My_App");
        let b = inventory_name("apps/my-app");
        assert!(
            a.starts_with("apps-my-app-") && a.len() == "apps-my-app-".len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
        assert!(invalid_dns_label(&inventory_name(&"x/".repeat(80))).is_none());
        assert!(invalid_dns_label(&inventory_name("_")).is_none());
    }
}
