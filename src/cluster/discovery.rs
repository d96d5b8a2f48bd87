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

/// A kind the cluster (or a CRD of the render) serves.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub resource: ApiResource,
    pub namespaced: bool,
    /// Defined by a CRD of this render that the cluster does not serve yet.
    pub pending_crd: bool,
}

impl ResourceInfo {
    /// A core Namespace (whatever version it is served under).
    pub fn is_namespace(&self) -> bool {
        self.resource.group.is_empty() && self.resource.kind == "Namespace"
    }
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
        let answers = cluster
            .each(api_versions, |api_version| async move {
                let result = resources_of(cluster, &api_version).await;
                (api_version, result)
            })
            .await;
        let mut discovery = Discovery::default();
        for (api_version, result) in answers {
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

    /// Adds the kinds that CRDs among `objects` (a render) define and the server does not serve
    /// yet.
    pub fn add_crds<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) {
        let is_crd = |o: &Value| {
            o["kind"] == "CustomResourceDefinition"
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
        };
        for crd in objects.into_iter().filter(|o| is_crd(o)) {
            let spec = &crd["spec"];
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

/// What the server serves: its version and every group-version (of the groups asked for, or
/// all), each with its resources. A group-version whose resources cannot be listed (a broken
/// aggregated API) has none. Every request goes through the retry path.
pub struct ServedApis {
    pub version: String,
    pub group_versions: Vec<(String, Option<APIResourceList>)>,
}

impl ServedApis {
    /// Each group-version with the kinds it serves (subresources left out).
    pub fn kinds(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        self.group_versions.iter().map(|(group_version, list)| {
            let kinds = list
                .iter()
                .flat_map(|l| &l.resources)
                .filter(|r| !r.name.contains('/'))
                .map(|r| r.kind.as_str())
                .collect();
            (group_version.as_str(), kinds)
        })
    }
}

pub async fn served_apis(
    cluster: &Cluster,
    groups: Option<&BTreeSet<&str>>,
) -> Result<ServedApis, ClusterError> {
    let wanted = |group: &str| groups.is_none_or(|g| g.contains(group));
    let failed = |e: kube::Error, what: &str| {
        ClusterError::from_kube(
            e,
            &cluster.server,
            Operation::new("discover", what.to_owned()),
        )
    };
    let version: k8s_openapi::apimachinery::pkg::version::Info =
        get_json(cluster, "/version", "the server version")
            .await
            .map_err(|e| failed(e, "the server version"))?;
    let mut api_versions = Vec::new();
    if wanted("") {
        let core: k8s_openapi::apimachinery::pkg::apis::meta::v1::APIVersions =
            get_json(cluster, "/api", "the core API versions")
                .await
                .map_err(|e| failed(e, "the core API versions"))?;
        api_versions.extend(core.versions);
    }
    let list: k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList =
        get_json(cluster, "/apis", "the API groups")
            .await
            .map_err(|e| failed(e, "the API groups"))?;
    api_versions.extend(
        list.groups
            .iter()
            .filter(|g| wanted(&g.name))
            .flat_map(|g| g.versions.iter().map(|v| v.group_version.clone())),
    );
    let group_versions = cluster
        .each(api_versions, |api_version| async move {
            let resources = resources_of(cluster, &api_version).await.ok();
            (api_version, resources)
        })
        .await;
    Ok(ServedApis {
        version: version.git_version,
        group_versions,
    })
}

/// A discovery document, retried like every other read.
async fn get_json<T: serde::de::DeserializeOwned>(
    cluster: &Cluster,
    path: &str,
    what: &str,
) -> Result<T, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let body = super::send::send_bytes(cluster, request, || format!("discover {what}")).await?;
    serde_json::from_slice(&body).map_err(kube::Error::SerdeError)
}

/// The resources of one group-version (`GET /api/v1`, `GET /apis/apps/v1`).
async fn resources_of(
    cluster: &Cluster,
    api_version: &str,
) -> Result<APIResourceList, kube::Error> {
    let path = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    get_json(cluster, &path, &format!("API {api_version}")).await
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}
