//! What gitops knows about built-in kinds without asking a cluster: apply order and scope.
//!
//! The one table behind the kind order of SPEC.md (Apply). Discovery is the authority on scope
//! once a cluster is at hand; this table serves `render`, which never talks to a cluster.

/// Where a kind goes within a wave; lower ranks are applied first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KindRank {
    Namespace,
    CustomResourceDefinition,
    ClusterConfig,
    ServiceAccount,
    Secret,
    ConfigMap,
    Storage,
    NamespacedRbac,
    Service,
    Workload,
    Ingress,
    OtherBuiltin,
    Admission,
    CustomResource,
}

struct Builtin {
    group: &'static str,
    kind: &'static str,
    rank: KindRank,
    cluster_scoped: bool,
}

const fn b(group: &'static str, kind: &'static str, rank: KindRank, cluster: bool) -> Builtin {
    Builtin {
        group,
        kind,
        rank,
        cluster_scoped: cluster,
    }
}

use KindRank as R;

const BUILTINS: &[Builtin] = &[
    b("", "Namespace", R::Namespace, true),
    b(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        R::CustomResourceDefinition,
        true,
    ),
    b(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        R::ClusterConfig,
        true,
    ),
    b(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        R::ClusterConfig,
        true,
    ),
    b("scheduling.k8s.io", "PriorityClass", R::ClusterConfig, true),
    b("node.k8s.io", "RuntimeClass", R::ClusterConfig, true),
    b("policy", "PodSecurityPolicy", R::ClusterConfig, true),
    b("networking.k8s.io", "IngressClass", R::ClusterConfig, true),
    b(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        R::ClusterConfig,
        true,
    ),
    b(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        R::ClusterConfig,
        true,
    ),
    b("", "ResourceQuota", R::ClusterConfig, false),
    b("", "LimitRange", R::ClusterConfig, false),
    b(
        "networking.k8s.io",
        "NetworkPolicy",
        R::ClusterConfig,
        false,
    ),
    b("", "ServiceAccount", R::ServiceAccount, false),
    b("", "Secret", R::Secret, false),
    b("", "ConfigMap", R::ConfigMap, false),
    b("storage.k8s.io", "StorageClass", R::Storage, true),
    b("storage.k8s.io", "CSIDriver", R::Storage, true),
    b("", "PersistentVolume", R::Storage, true),
    b("", "PersistentVolumeClaim", R::Storage, false),
    b(
        "rbac.authorization.k8s.io",
        "Role",
        R::NamespacedRbac,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        R::NamespacedRbac,
        false,
    ),
    b("", "Service", R::Service, false),
    b("", "Endpoints", R::Service, false),
    b("discovery.k8s.io", "EndpointSlice", R::Service, false),
    b("apps", "DaemonSet", R::Workload, false),
    b("", "Pod", R::Workload, false),
    b("", "ReplicationController", R::Workload, false),
    b("apps", "ReplicaSet", R::Workload, false),
    b("apps", "Deployment", R::Workload, false),
    b("extensions", "Deployment", R::Workload, false),
    b("apps", "StatefulSet", R::Workload, false),
    b("batch", "Job", R::Workload, false),
    b("batch", "CronJob", R::Workload, false),
    b("autoscaling", "HorizontalPodAutoscaler", R::Workload, false),
    b("policy", "PodDisruptionBudget", R::Workload, false),
    b("networking.k8s.io", "Ingress", R::Ingress, false),
    b("extensions", "Ingress", R::Ingress, false),
    b(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        R::Admission,
        true,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        R::Admission,
        true,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        R::Admission,
        true,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        R::Admission,
        true,
    ),
    b("apiregistration.k8s.io", "APIService", R::Admission, true),
    b("", "Node", R::OtherBuiltin, true),
    b("", "ComponentStatus", R::OtherBuiltin, true),
    b(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        R::OtherBuiltin,
        true,
    ),
    b("storage.k8s.io", "VolumeAttachment", R::OtherBuiltin, true),
    b("storage.k8s.io", "CSINode", R::OtherBuiltin, true),
];

/// API groups served by Kubernetes itself; kinds of any other group are custom resources.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

fn builtin(group: &str, kind: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.group == group && b.kind == kind)
}

/// The group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (core).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Apply rank of a kind within its wave.
pub fn rank(group: &str, kind: &str) -> KindRank {
    match builtin(group, kind) {
        Some(b) => b.rank,
        None if BUILTIN_GROUPS.contains(&group) => KindRank::OtherBuiltin,
        None => KindRank::CustomResource,
    }
}

/// Whether a built-in kind is cluster-scoped; `None` when this table does not know the kind.
pub fn builtin_cluster_scoped(group: &str, kind: &str) -> Option<bool> {
    builtin(group, kind).map(|b| b.cluster_scoped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_spec() {
        let order = [
            ("", "Namespace"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("", "ServiceAccount"),
            ("", "Secret"),
            ("", "ConfigMap"),
            ("", "PersistentVolumeClaim"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("", "Service"),
            ("apps", "Deployment"),
            ("networking.k8s.io", "Ingress"),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
            ),
            ("example.com", "Widget"),
        ];
        for pair in order.windows(2) {
            let (a, b) = (rank(pair[0].0, pair[0].1), rank(pair[1].0, pair[1].1));
            assert!(a < b, "{pair:?}: {a:?} should come before {b:?}");
        }
        assert_eq!(rank("example.com", "Deployment"), KindRank::CustomResource);
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
    }
}
