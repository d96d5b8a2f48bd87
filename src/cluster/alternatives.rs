//! For a kind the render uses in an apiVersion the cluster does not serve: which versions of its
//! group do serve it, and the server's version, so the message says what to do (e.g.
//! `autoscaling/v2` HorizontalPodAutoscaler on a v1.20 cluster, which serves `autoscaling/v2beta2`).
//! Only asked on that error path.

use std::collections::{BTreeMap, BTreeSet};

use super::client::Cluster;

/// (group, kind) → the apiVersions this cluster serves the kind under.
pub type Served = BTreeMap<(String, String), Vec<String>>;

/// The apiVersions serving each (group, kind), and the server's gitVersion when it tells.
pub async fn served_elsewhere(
    cluster: &Cluster,
    wanted: &BTreeSet<(String, String)>,
) -> (Served, Option<String>) {
    let client = &cluster.client;
    let version = client.apiserver_version().await.ok().map(|v| v.git_version);
    let groups: BTreeSet<&str> = wanted.iter().map(|(g, _)| g.as_str()).collect();
    let mut api_versions = Vec::new();
    if groups.contains("") {
        if let Ok(core) = client.list_core_api_versions().await {
            api_versions.extend(core.versions);
        }
    }
    if let Ok(list) = client.list_api_groups().await {
        for group in list
            .groups
            .iter()
            .filter(|g| groups.contains(g.name.as_str()))
        {
            api_versions.extend(group.versions.iter().map(|v| v.group_version.clone()));
        }
    }
    let mut served = Served::new();
    for api_version in api_versions {
        let resources = if api_version.contains('/') {
            client.list_api_group_resources(&api_version).await
        } else {
            client.list_core_api_resources(&api_version).await
        };
        let Ok(resources) = resources else { continue };
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        for resource in resources.resources.iter().filter(|r| !r.name.contains('/')) {
            let key = (group.to_owned(), resource.kind.clone());
            if wanted.contains(&key) {
                served.entry(key).or_default().push(api_version.clone());
            }
        }
    }
    (served, version)
}

/// The hint for one unknown kind.
pub fn hint(served: &Served, version: Option<&str>, group: &str, kind: &str) -> String {
    let cluster = version.map_or_else(
        || "this cluster".to_owned(),
        |v| format!("this cluster ({v})"),
    );
    match served.get(&(group.to_owned(), kind.to_owned())) {
        Some(versions) if !versions.is_empty() => format!(
            "{cluster} serves {kind} as {}: use one of those, or a cluster that serves this version",
            versions.join(", ")
        ),
        _ if group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io") => {
            format!("{cluster} does not serve {kind} in any version")
        }
        _ => format!(
            "{cluster} does not serve {kind} in any version: install the CRD that defines it first, or add that CRD to this render"
        ),
    }
}
