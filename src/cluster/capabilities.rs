//! The cluster as a Helm chart may ask about it (`.Capabilities`): server version and every
//! API version it serves, with kinds. Read once per target with a chart, all group-versions at
//! once.

use std::collections::BTreeSet;

use super::client::Cluster;
use super::error::{ClusterError, Operation};
use crate::render::Capabilities;

/// The server's version and API versions (`group/version` and `group/version/Kind`). A
/// group-version whose resources cannot be listed (a broken aggregated API) still counts as
/// `group/version`.
pub async fn read(cluster: &Cluster) -> Result<Capabilities, ClusterError> {
    let client = &cluster.client;
    let failed = |e: kube::Error, what: &str| {
        ClusterError::from_kube(
            e,
            &cluster.server,
            Operation::new("discover", what.to_owned()),
        )
    };
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| failed(e, "the server version"))?;
    let mut group_versions: Vec<String> = client
        .list_core_api_versions()
        .await
        .map_err(|e| failed(e, "the core API versions"))?
        .versions;
    let groups = client
        .list_api_groups()
        .await
        .map_err(|e| failed(e, "the API groups"))?;
    group_versions.extend(
        groups
            .groups
            .iter()
            .flat_map(|g| g.versions.iter().map(|v| v.group_version.clone())),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for group_version in group_versions.clone() {
        let client = client.clone();
        tasks.spawn(async move {
            let list = if group_version.contains('/') {
                client.list_api_group_resources(&group_version).await
            } else {
                client.list_core_api_resources(&group_version).await
            };
            (group_version, list)
        });
    }
    let mut api_versions: BTreeSet<String> = group_versions.into_iter().collect();
    while let Some(joined) = tasks.join_next().await {
        let Ok((group_version, Ok(list))) = joined else {
            continue;
        };
        api_versions.extend(
            list.resources
                .iter()
                .filter(|r| !r.name.contains('/'))
                .map(|r| format!("{group_version}/{}", r.kind)),
        );
    }
    Ok(Capabilities {
        kube_version: version.git_version,
        api_versions: api_versions.into_iter().collect(),
    })
}
