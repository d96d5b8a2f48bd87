//! Which object of one render is which of the other: group, kind and name, across namespaces
//! when each side keeps its namespaced objects in one namespace (environments usually differ
//! only there), else by namespace and name too.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::render::Manifest;

/// One object of a side, with the namespace it lands in.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub manifest: &'a Manifest,
    pub object: &'a Value,
    pub group: String,
    pub kind: String,
    /// The object's namespace, else the side's default one; None when cluster-scoped.
    pub namespace: Option<String>,
    /// `metadata.name`, or `generateName` for a hook that has no name.
    pub name: String,
}

impl Entry<'_> {
    /// `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// The objects of a side as entries. Cluster scope is known for built-in kinds and for kinds
/// whose CRD the same render carries; any other kind is taken as namespaced.
pub fn entries<'a>(manifests: &'a [Manifest], default_namespace: &str) -> Vec<Entry<'a>> {
    let cluster_scoped_crds: BTreeSet<(String, String)> = manifests
        .iter()
        .filter(|m| m.kind() == Some("CustomResourceDefinition"))
        .filter(|crd| crd.object.pointer("/spec/scope").and_then(Value::as_str) == Some("Cluster"))
        .filter_map(|crd| {
            let group = crd.object.pointer("/spec/group")?.as_str()?;
            let kind = crd.object.pointer("/spec/names/kind")?.as_str()?;
            Some((group.to_owned(), kind.to_owned()))
        })
        .collect();
    manifests
        .iter()
        .map(|manifest| {
            let group = manifest.group().to_owned();
            let kind = manifest.kind().unwrap_or_default().to_owned();
            let cluster_scoped = crate::kinds::builtin_cluster_scoped(&group, &kind)
                .unwrap_or_else(|| cluster_scoped_crds.contains(&(group.clone(), kind.clone())));
            let namespace = (!cluster_scoped)
                .then(|| manifest.namespace().unwrap_or(default_namespace).to_owned());
            let name = manifest
                .name()
                .or_else(|| {
                    manifest
                        .object
                        .pointer("/metadata/generateName")
                        .and_then(Value::as_str)
                })
                .unwrap_or_default()
                .to_owned();
            Entry {
                manifest,
                object: &manifest.object,
                group,
                kind,
                namespace,
                name,
            }
        })
        .collect()
}

/// Both sides' objects, paired.
#[derive(Debug, Default)]
pub struct Pairing<'a> {
    /// In A's order.
    pub pairs: Vec<(Entry<'a>, Entry<'a>)>,
    pub only_in_a: Vec<Entry<'a>>,
    pub only_in_b: Vec<Entry<'a>>,
    /// The namespaces paired across (A's, B's), when they differ.
    pub across: Option<(String, String)>,
    /// Names that differ only because the environments do (A's, B's): the namespaces, and
    /// generated names with different hashes. A field holding one of these on each side is
    /// the same reference.
    pub renames: Vec<(String, String)>,
}

pub fn pair<'a>(a: Vec<Entry<'a>>, b: Vec<Entry<'a>>) -> Pairing<'a> {
    let single = |side: &[Entry<'_>]| {
        let namespaces: BTreeSet<&str> =
            side.iter().filter_map(|e| e.namespace.as_deref()).collect();
        (namespaces.len() == 1)
            .then(|| namespaces.into_iter().next().unwrap_or_default().to_owned())
    };
    let across = match (single(&a), single(&b)) {
        (Some(na), Some(nb)) => Some((na, nb)),
        _ => None,
    };
    let key = |e: &Entry<'_>| {
        let namespace = match (&across, &e.namespace) {
            (Some(_), Some(_)) => Some(String::new()),
            (_, namespace) => namespace.clone(),
        };
        (e.group.clone(), e.kind.clone(), namespace, e.name.clone())
    };
    let mut in_b: HashMap<_, Entry<'a>> = b.iter().map(|e| (key(e), e.clone())).collect();
    let mut pairing = Pairing::default();
    for entry in a {
        match in_b.remove(&key(&entry)) {
            Some(other) => pairing.pairs.push((entry, other)),
            None => pairing.only_in_a.push(entry),
        }
    }
    let only_in_b: Vec<Entry<'a>> = b
        .into_iter()
        .filter(|e| in_b.contains_key(&key(e)))
        .collect();
    // What is left pairs when it is the same object under an environment's name: the
    // namespace itself, or a kustomize generator's ConfigMap or Secret (its hash differs
    // whenever the content does).
    let renamed = |e: &Entry<'_>, namespace: Option<&str>| -> Option<(String, String, String)> {
        let name =
            if e.kind == "Namespace" && e.group.is_empty() && Some(e.name.as_str()) == namespace {
                String::new()
            } else {
                generated_base(&e.name)?.to_owned()
            };
        Some((
            e.group.clone(),
            e.kind.clone(),
            format!("{:?}/{name}", key(e).2),
        ))
    };
    let (ns_a, ns_b) = match &across {
        Some((na, nb)) => (Some(na.as_str()), Some(nb.as_str())),
        None => (None, None),
    };
    let mut left_in_b: HashMap<_, Entry<'a>> = HashMap::new();
    for entry in &only_in_b {
        if let Some(k) = renamed(entry, ns_b) {
            left_in_b.insert(k, entry.clone());
        }
    }
    let only_in_a = std::mem::take(&mut pairing.only_in_a);
    for entry in only_in_a {
        match renamed(&entry, ns_a).and_then(|k| left_in_b.remove(&k)) {
            Some(other) => {
                pairing
                    .renames
                    .push((entry.name.clone(), other.name.clone()));
                pairing.pairs.push((entry, other));
            }
            None => pairing.only_in_a.push(entry),
        }
    }
    let paired_b: BTreeSet<String> = pairing.pairs.iter().map(|(_, b)| b.label()).collect();
    pairing.only_in_b = only_in_b
        .into_iter()
        .filter(|e| !paired_b.contains(&e.label()))
        .collect();
    pair_across_affixes(&mut pairing, &key_namespace(&across));
    pairing.across = across.filter(|(na, nb)| na != nb);
    if let Some((na, nb)) = &pairing.across {
        pairing.renames.push((na.clone(), nb.clone()));
    }
    pairing
}

/// How `pair` keys an entry's namespace.
fn key_namespace(across: &Option<(String, String)>) -> impl Fn(&Entry<'_>) -> Option<String> + '_ {
    move |e: &Entry<'_>| match (across, &e.namespace) {
        (Some(_), Some(_)) => Some(String::new()),
        (_, namespace) => namespace.clone(),
    }
}

/// Environments often differ by a kustomize `namePrefix` or `nameSuffix` (`stg-web`,
/// `prd-web`): when every object left on each side carries one prefix (or suffix) ending or
/// starting at a `-`, and they differ, the objects pair by the names without them.
fn pair_across_affixes<'a>(
    pairing: &mut Pairing<'a>,
    namespace: &dyn Fn(&Entry<'_>) -> Option<String>,
) {
    // One name a side says nothing about a naming pattern.
    if pairing.only_in_a.len() < 2 || pairing.only_in_b.len() < 2 {
        return;
    }
    let names = |side: &[Entry<'_>]| side.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    let (names_a, names_b) = (names(&pairing.only_in_a), names(&pairing.only_in_b));
    let (prefix_a, prefix_b) = (common_prefix(&names_a), common_prefix(&names_b));
    let (suffix_a, suffix_b) = (common_suffix(&names_a), common_suffix(&names_b));
    let strip = |name: &str, prefix: &str, suffix: &str| -> String {
        let name = name.strip_prefix(prefix).unwrap_or(name);
        name.strip_suffix(suffix).unwrap_or(name).to_owned()
    };
    if prefix_a == prefix_b && suffix_a == suffix_b {
        return;
    }
    let key = |e: &Entry<'_>, prefix: &str, suffix: &str| {
        (
            e.group.clone(),
            e.kind.clone(),
            namespace(e),
            strip(&e.name, prefix, suffix),
        )
    };
    let mut in_b: std::collections::HashMap<_, Entry<'a>> = pairing
        .only_in_b
        .iter()
        .map(|e| (key(e, &prefix_b, &suffix_b), e.clone()))
        .collect();
    let mut left_a = Vec::new();
    for entry in std::mem::take(&mut pairing.only_in_a) {
        match in_b.remove(&key(&entry, &prefix_a, &suffix_a)) {
            Some(other) => {
                pairing
                    .renames
                    .push((entry.name.clone(), other.name.clone()));
                pairing.pairs.push((entry, other));
            }
            None => left_a.push(entry),
        }
    }
    pairing.only_in_a = left_a;
    let paired: BTreeSet<String> = pairing.pairs.iter().map(|(_, b)| b.label()).collect();
    pairing.only_in_b.retain(|e| !paired.contains(&e.label()));
}

/// The prefix every name shares, up to and including its last `-` (`stg-` of `stg-web`,
/// `stg-api`); empty when there is none.
fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut length = first.len();
    for name in names.iter().skip(1) {
        length = first
            .bytes()
            .zip(name.bytes())
            .take(length)
            .take_while(|(a, b)| a == b)
            .count();
    }
    match first[..length].rfind('-') {
        // A prefix must leave a name behind.
        Some(dash) if names.iter().all(|n| n.len() > dash + 1) => first[..=dash].to_owned(),
        _ => String::new(),
    }
}

/// The suffix every name shares, from its first `-` (`-prod` of `web-prod`, `api-prod`).
fn common_suffix(names: &[String]) -> String {
    let reversed: Vec<String> = names.iter().map(|n| n.chars().rev().collect()).collect();
    common_prefix(&reversed).chars().rev().collect()
}

/// `web-env` for kustomize's `web-env-7g482798c9`: the name without the generator's hash
/// suffix (ten characters of its alphabet), if it has one.
fn generated_base(name: &str) -> Option<&str> {
    let (base, hash) = name.rsplit_once('-')?;
    let alphabet = |c: char| {
        matches!(
            c,
            '2' | '4'..='9' | 'b' | 'c' | 'd' | 'f' | 'g' | 'h' | 'k' | 'm' | 't'
        )
    };
    (hash.len() == 10 && hash.chars().all(alphabet) && !base.is_empty()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::manifest::parse_stream;

    fn names(entries: &[Entry<'_>]) -> Vec<String> {
        entries.iter().map(Entry::label).collect()
    }

    #[test]
    fn one_namespace_a_side_pairs_across_namespaces() {
        let a = parse_stream("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: web, namespace: staging}\n---\nkind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: reader}\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {name: extra}\n", "a.yaml").unwrap();
        let b = parse_stream("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: web}\n---\nkind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: reader}\n", "b.yaml").unwrap();
        let pairing = pair(entries(&a, "staging"), entries(&b, "production"));
        assert_eq!(pairing.pairs.len(), 2);
        assert_eq!(pairing.pairs[0].1.label(), "Deployment/production/web");
        assert_eq!(pairing.pairs[1].0.label(), "ClusterRole/reader");
        assert_eq!(names(&pairing.only_in_a), ["ConfigMap/staging/extra"]);
        assert!(pairing.only_in_b.is_empty());
        assert_eq!(
            pairing.across,
            Some(("staging".into(), "production".into()))
        );
    }

    #[test]
    fn several_namespaces_pair_by_namespace_and_name() {
        let text = |ns: &str| {
            format!("kind: ConfigMap\napiVersion: v1\nmetadata: {{name: c, namespace: {ns}}}\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {{name: c, namespace: other}}\n")
        };
        let (a, b) = (text("one"), text("two"));
        let a = parse_stream(&a, "a.yaml").unwrap();
        let b = parse_stream(&b, "b.yaml").unwrap();
        let pairing = pair(entries(&a, "default"), entries(&b, "default"));
        assert_eq!(pairing.pairs.len(), 1);
        assert_eq!(names(&pairing.only_in_a), ["ConfigMap/one/c"]);
        assert_eq!(names(&pairing.only_in_b), ["ConfigMap/two/c"]);
        assert_eq!(pairing.across, None);
    }

    #[test]
    fn a_name_prefix_or_suffix_per_environment_still_pairs() {
        let side = |prefix: &str, suffix: &str| {
            format!("kind: Deployment\napiVersion: apps/v1\nmetadata: {{name: {prefix}web{suffix}, namespace: x}}\n---\nkind: Service\napiVersion: v1\nmetadata: {{name: {prefix}web{suffix}, namespace: x}}\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {{name: {prefix}api-settings{suffix}, namespace: x}}\n")
        };
        let (a, b) = (side("stg-", ""), side("prd-", ""));
        let a = parse_stream(&a, "a.yaml").unwrap();
        let b = parse_stream(&b, "b.yaml").unwrap();
        let pairing = pair(entries(&a, "x"), entries(&b, "x"));
        assert_eq!(pairing.pairs.len(), 3, "{pairing:?}");
        assert!(pairing
            .renames
            .contains(&("stg-web".into(), "prd-web".into())));
        let (a, b) = (side("", "-staging"), side("", "-prod"));
        let a = parse_stream(&a, "a.yaml").unwrap();
        let b = parse_stream(&b, "b.yaml").unwrap();
        assert_eq!(pair(entries(&a, "x"), entries(&b, "x")).pairs.len(), 3);
        assert_eq!(common_prefix(&["web".into(), "api".into()]), "");
        assert_eq!(common_prefix(&["a-web".into(), "a-".into()]), "");
    }

    #[test]
    fn namespaces_and_generated_names_pair_across_environments() {
        let side = |ns: &str, hash: &str| {
            format!("kind: Namespace\napiVersion: v1\nmetadata: {{name: {ns}}}\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {{name: web-env-{hash}, namespace: {ns}}}\n")
        };
        let (a, b) = (
            side("staging", "7g482798c9"),
            side("production", "mmmk6t62dm"),
        );
        let a = parse_stream(&a, "a.yaml").unwrap();
        let b = parse_stream(&b, "b.yaml").unwrap();
        let pairing = pair(entries(&a, "x"), entries(&b, "y"));
        assert_eq!(pairing.pairs.len(), 2, "{pairing:?}");
        assert!(pairing.only_in_a.is_empty() && pairing.only_in_b.is_empty());
        assert!(pairing
            .renames
            .contains(&("web-env-7g482798c9".into(), "web-env-mmmk6t62dm".into())));
        assert_eq!(generated_base("web-env-abcdefghij"), None);
    }
}
