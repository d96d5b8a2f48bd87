//! Discovery, once per run: which resource and scope each rendered apiVersion/kind maps to.
//!
//! Only the group-versions the render uses are asked for, all at once. A group-version the
//! server does not serve (404, or 503 from a broken aggregated API) just leaves its kinds
//! unknown; kinds defined by a CRD in the same render are added from that CRD.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::core::ApiResource;
use serde_json::Value;

use super::client::Cluster;
use super::error::{ClusterError, Operation};
use crate::render::Manifest;

/// A kind the cluster (or a CRD of the render) serves.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub resource: ApiResource,
    pub namespaced: bool,
    /// Defined by a CRD of this render that the cluster does not serve yet.
    pub pending_crd: bool,
}

/// apiVersion/kind → resource, for one run.
#[derive(Debug, Default, Clone)]
pub struct Discovery {
    kinds: HashMap<(String, String), ResourceInfo>,
}

impl Discovery {
    /// Asks the server for every group-version in `api_versions`, concurrently.
    pub async fn run(
        cluster: &Cluster,
        api_versions: BTreeSet<String>,
    ) -> Result<Self, ClusterError> {
        let mut tasks = tokio::task::JoinSet::new();
        for api_version in api_versions {
            let cluster = cluster.clone();
            tasks.spawn(async move {
                let result = resources_of(&cluster, &api_version).await;
                (api_version, result)
            });
        }
        let mut discovery = Discovery::default();
        while let Some(joined) = tasks.join_next().await {
            let (api_version, result) =
                joined.map_err(|e| ClusterError::Config(format!("discovery stopped: {e}")))?;
            match result {
                Ok(list) => discovery.add_list(&api_version, &list),
                Err(kube::Error::Api(status)) if matches!(status.code, 404 | 503) => {
                    crate::log::verbose(&format!(
                        "discovery: {api_version} is not served ({})",
                        status.code
                    ));
                }
                Err(e) => {
                    let operation = Operation::new("discover", format!("API {api_version}"));
                    return Err(ClusterError::from_kube(e, &cluster.server, operation));
                }
            }
        }
        Ok(discovery)
    }

    fn add_list(&mut self, api_version: &str, list: &APIResourceList) {
        let (group, version) = split_api_version(api_version);
        for resource in &list.resources {
            if resource.name.contains('/') {
                continue; // subresources such as deployments/status
            }
            let info = ResourceInfo {
                resource: ApiResource {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    api_version: api_version.to_owned(),
                    kind: resource.kind.clone(),
                    plural: resource.name.clone(),
                },
                namespaced: resource.namespaced,
                pending_crd: false,
            };
            self.kinds
                .insert((api_version.to_owned(), resource.kind.clone()), info);
        }
    }

    /// Adds the kinds that CRDs of the render define and the server does not serve yet.
    pub fn add_render_crds(&mut self, manifests: &[Manifest]) {
        for crd in manifests.iter().filter(|m| {
            m.kind() == Some("CustomResourceDefinition") && m.group() == "apiextensions.k8s.io"
        }) {
            let spec = &crd.object["spec"];
            let (Some(group), Some(kind), Some(plural)) = (
                spec["group"].as_str(),
                spec["names"]["kind"].as_str(),
                spec["names"]["plural"].as_str(),
            ) else {
                continue;
            };
            let namespaced = spec["scope"].as_str() != Some("Cluster");
            for version in spec["versions"].as_array().into_iter().flatten() {
                let Some(name) = version["name"].as_str() else {
                    continue;
                };
                if version["served"] == Value::Bool(false) {
                    continue;
                }
                let api_version = format!("{group}/{name}");
                self.kinds
                    .entry((api_version.clone(), kind.to_owned()))
                    .or_insert_with(|| ResourceInfo {
                        resource: ApiResource {
                            group: group.to_owned(),
                            version: name.to_owned(),
                            api_version,
                            kind: kind.to_owned(),
                            plural: plural.to_owned(),
                        },
                        namespaced,
                        pending_crd: true,
                    });
            }
        }
    }

    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.kinds.get(&(api_version.to_owned(), kind.to_owned()))
    }
}

/// The resources of one group-version (`GET /api/v1`, `GET /apis/apps/v1`), retried like every
/// other read.
async fn resources_of(
    cluster: &Cluster,
    api_version: &str,
) -> Result<APIResourceList, kube::Error> {
    let path = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let body =
        super::objects::send_bytes(cluster, request, || format!("discover API {api_version}"))
            .await?;
    serde_json::from_slice(&body).map_err(kube::Error::SerdeError)
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}
