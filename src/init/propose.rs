//! Targets proposed for what `discover` found: names, namespaces, Helm settings, and the
//! gitops.yaml that holds them.

use std::collections::BTreeMap;
use std::path::Path;

use super::discover::{Found, FoundKind};
use crate::names::inventory_name;

/// Directory names under which each subdirectory is one environment of an app.
const ENVIRONMENT_PARENTS: &[&str] = &["overlays", "envs", "environments", "clusters"];

/// One proposed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    pub name: String,
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    pub namespace: Option<String>,
    /// For a chart: release name and values file.
    pub helm: Option<(String, Option<String>)>,
    /// For a plain directory: files left out (not Kubernetes objects).
    pub exclude: Vec<String>,
}

/// The targets and what was changed to make them fit (renamed duplicates).
#[derive(Debug, Default)]
pub struct Proposal {
    pub targets: Vec<Proposed>,
    pub notes: Vec<String>,
}

pub fn propose(found: &[Found], repository: &str) -> Proposal {
    let mut proposal = Proposal::default();
    for item in found {
        let path = slash_path(&item.path);
        match &item.kind {
            FoundKind::Kustomize { namespace } => {
                proposal.targets.push(Proposed {
                    name: name_for(&item.path, repository),
                    path,
                    namespace: namespace.clone(),
                    helm: None,
                    exclude: Vec::new(),
                });
            }
            FoundKind::Plain { namespace, exclude } => {
                proposal.targets.push(Proposed {
                    name: name_for(&item.path, repository),
                    path,
                    namespace: namespace.clone(),
                    helm: None,
                    exclude: exclude.clone(),
                });
            }
            FoundKind::Helm { environments } => {
                let chart = name_for(&item.path, repository);
                let release = item.path.file_name().map_or_else(
                    || repository.to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let release = inventory_name(&release);
                if environments.is_empty() {
                    proposal.targets.push(Proposed {
                        name: chart.clone(),
                        path: path.clone(),
                        namespace: None,
                        helm: Some((release.clone(), None)),
                        exclude: Vec::new(),
                    });
                }
                for (environment, file) in environments {
                    proposal.targets.push(Proposed {
                        name: inventory_name(&format!("{chart}-{environment}")),
                        path: path.clone(),
                        namespace: None,
                        helm: Some((release.clone(), Some(file.clone()))),
                        exclude: Vec::new(),
                    });
                }
            }
        }
    }
    // Short names where they are unique; where two collide, their paths' names.
    let mut short_count: BTreeMap<String, usize> = BTreeMap::new();
    for target in &proposal.targets {
        *short_count.entry(target.name.clone()).or_insert(0) += 1;
    }
    for (target, item) in proposal.targets.iter_mut().zip(expanded(found)) {
        if short_count.get(&target.name).copied().unwrap_or(0) > 1 {
            let long = long_name(&item.path, repository);
            let renamed = match &target.helm {
                Some((_, Some(values))) => {
                    inventory_name(&format!("{long}-{}", environment_of(values)))
                }
                _ => long,
            };
            proposal.notes.push(format!(
                "{} would share the name {} with another directory: it is named {renamed}",
                target.path, target.name
            ));
            target.name = renamed;
        }
    }
    // Two directories may still come to one name: the later ones get a number, and it is said.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for target in &mut proposal.targets {
        let count = seen.entry(target.name.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            let renamed = format!("{}-{count}", target.name);
            proposal.notes.push(format!(
                "{} and another directory would both be named {}: this one is {renamed}",
                target.path, target.name
            ));
            target.name = renamed;
        }
    }
    proposal
}

/// Each found item once per target it gave (a chart once per environment).
fn expanded(found: &[Found]) -> Vec<&Found> {
    found
        .iter()
        .flat_map(|f| {
            let times = match &f.kind {
                FoundKind::Helm { environments } => environments.len().max(1),
                _ => 1,
            };
            std::iter::repeat_n(f, times)
        })
        .collect()
}

/// `values-staging.yaml` → `staging`.
fn environment_of(values: &str) -> String {
    let stem = values.trim_end_matches(".yaml").trim_end_matches(".yml");
    stem.strip_prefix("values-")
        .or_else(|| stem.strip_prefix("values."))
        .or_else(|| stem.strip_suffix(".values"))
        .or_else(|| stem.strip_suffix("-values"))
        .unwrap_or(stem)
        .to_owned()
}

/// The path with `/` → `-` (the repository's name for its root).
fn long_name(path: &Path, repository: &str) -> String {
    let text = slash_path(path);
    if text == "." {
        inventory_name(repository)
    } else {
        inventory_name(&text)
    }
}

/// `apps/shop/overlays/staging` → `shop-staging`; otherwise the directory's own name (the
/// repository's name for its root).
fn name_for(path: &Path, repository: &str) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return inventory_name(repository);
    }
    if let Some(at) = parts
        .iter()
        .rposition(|p| ENVIRONMENT_PARENTS.contains(&p.as_str()))
        .filter(|at| at + 1 < parts.len())
    {
        let app = if at == 0 {
            repository.to_owned()
        } else {
            parts[at - 1].clone()
        };
        let rest = parts[at + 1..].join("-");
        // `clusters/eu` alone names the cluster.
        if parts[at] == "clusters" && at == 0 {
            return inventory_name(&rest);
        }
        return inventory_name(&format!("{app}-{rest}"));
    }
    inventory_name(&parts[parts.len() - 1])
}

fn slash_path(path: &Path) -> String {
    let text = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

/// The gitops.yaml of a proposal.
pub fn gitops_yaml(proposal: &Proposal) -> String {
    let mut out = String::from(
        "# Proposed by `gitops init`: review the names, and add a namespace or context where a\n# target needs one (docs/configuration.md). Paths are relative to this file.\ntargets:\n",
    );
    for target in &proposal.targets {
        out.push_str(&format!(
            "  - name: {}\n    path: {}\n",
            target.name,
            quote(&target.path)
        ));
        if let Some(namespace) = &target.namespace {
            out.push_str(&format!("    namespace: {}\n", quote(namespace)));
        }
        if !target.exclude.is_empty() {
            let globs: Vec<String> = target.exclude.iter().map(|g| format!("\"{g}\"")).collect();
            out.push_str(&format!(
                "    # not Kubernetes objects (an application's own files): left out\n    exclude: [{}]\n",
                globs.join(", ")
            ));
        }
        if let Some((release, values)) = &target.helm {
            out.push_str(&format!("    helm:\n      releaseName: {release}\n"));
            if let Some(values) = values {
                out.push_str(&format!("      values: [{}]\n", quote(values)));
            }
        }
    }
    out
}

/// A YAML scalar that stays a string.
fn quote(text: &str) -> String {
    if crate::yaml::resolve::needs_quotes_to_stay_string(text)
        || text.contains([':', '#', '[', ']', '{', '}', ','])
    {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_and_clusters_are_named_after_their_app_and_environment() {
        assert_eq!(
            name_for(Path::new("apps/shop/overlays/staging"), "repo"),
            "shop-staging"
        );
        assert_eq!(
            name_for(Path::new("overlays/prod"), "guestbook"),
            "guestbook-prod"
        );
        assert_eq!(name_for(Path::new("clusters/eu"), "fleet"), "eu");
        assert_eq!(name_for(Path::new("platform/ingress"), "repo"), "ingress");
        assert_eq!(
            name_for(Path::new(""), "My_Repo"),
            inventory_name("My_Repo")
        );
    }
}
