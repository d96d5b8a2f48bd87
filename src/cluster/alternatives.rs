//! For a kind the render uses in an apiVersion the cluster does not serve: which versions of its
//! group do serve it, and the server's version, so the message says what to do (e.g.
//! `autoscaling/v2` HorizontalPodAutoscaler on a v1.20 cluster, which serves `autoscaling/v2beta2`).
//! Only asked on that error path.

use std::collections::{BTreeMap, BTreeSet};

use super::client::Cluster;
use super::discovery::served_apis;

/// (group, kind) → the apiVersions this cluster serves the kind under.
pub type Served = BTreeMap<(String, String), Vec<String>>;

/// The apiVersions serving each (group, kind), and the server's gitVersion when it tells.
pub async fn served_elsewhere(
    cluster: &Cluster,
    wanted: &BTreeSet<(String, String)>,
) -> (Served, Option<String>) {
    let groups: BTreeSet<&str> = wanted.iter().map(|(g, _)| g.as_str()).collect();
    let Ok(apis) = served_apis(cluster, Some(&groups)).await else {
        return (Served::new(), None);
    };
    let mut served = Served::new();
    for (api_version, kinds) in apis.kinds() {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        for kind in kinds {
            let key = (group.to_owned(), kind.to_owned());
            if wanted.contains(&key) {
                served.entry(key).or_default().push(api_version.to_owned());
            }
        }
    }
    (served, Some(apis.version))
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
