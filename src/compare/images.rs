//! The images a workload runs: every container and init container of its pod template.

use serde::Serialize;
use serde_json::Value;

/// Where a kind keeps its pod spec; any other object with `spec.template.spec.containers`
/// (a custom workload such as an Argo Rollout) counts too.
pub fn pod_spec_pointer(kind: &str, object: &Value) -> Option<&'static str> {
    let pointer = match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    object
        .pointer(pointer)
        .and_then(|spec| spec.get("containers"))
        .is_some_and(Value::is_array)
        .then_some(pointer)
}

/// One container of a workload and the image it runs, with the JSON pointer of its `image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
    pub pointer: String,
}

/// Containers then init containers, in the order written.
pub fn container_images(kind: &str, object: &Value) -> Vec<ContainerImage> {
    let Some(spec_pointer) = pod_spec_pointer(kind, object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for list in ["containers", "initContainers"] {
        let pointer = format!("{spec_pointer}/{list}");
        let Some(Value::Array(containers)) = object.pointer(&pointer) else {
            continue;
        };
        for (index, container) in containers.iter().enumerate() {
            let (Some(name), Some(image)) = (
                container.get("name").and_then(Value::as_str),
                container.get("image").and_then(Value::as_str),
            ) else {
                continue;
            };
            found.push(ContainerImage {
                container: name.to_owned(),
                image: image.to_owned(),
                pointer: format!("{pointer}/{index}/image"),
            });
        }
    }
    found
}

/// A container whose image differs between the sides (None: the container is not on that side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageDifference {
    pub workload: String,
    pub container: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// The containers of one paired workload whose images differ, by container name.
pub fn differences(
    workload: &str,
    a: &[ContainerImage],
    b: &[ContainerImage],
) -> Vec<ImageDifference> {
    let image_in = |side: &[ContainerImage], name: &str| {
        side.iter()
            .find(|c| c.container == name)
            .map(|c| c.image.clone())
    };
    let names = a.iter().map(|c| &c.container).chain(
        b.iter()
            .map(|c| &c.container)
            .filter(|n| image_in(a, n).is_none()),
    );
    names
        .filter_map(|name| {
            let (ia, ib) = (image_in(a, name), image_in(b, name));
            (ia != ib).then(|| ImageDifference {
                workload: workload.to_owned(),
                container: name.clone(),
                a: ia,
                b: ib,
            })
        })
        .collect()
}

/// An image reference taken apart: `registry/path/name`, tag, digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> ImageRef {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_owned())),
            None => (reference, None),
        };
        // A colon after the last slash starts the tag; one before it is a registry's port.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[slash..].rfind(':') {
            Some(colon) => (
                rest[..slash + colon].to_owned(),
                Some(rest[slash + colon + 1..].to_owned()),
            ),
            None => (rest.to_owned(), None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }

    /// The last segment of the repository: `web` for `registry.example.com/shop/web`.
    pub fn short_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The reference written back: `repository[:tag][@digest]`.
    pub fn reference(&self) -> String {
        let mut out = self.repository.clone();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// What changes between two references of one repository: `1.4.2` or `sha256:…`.
    pub fn version(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
            (Some(tag), None) => tag.clone(),
            (None, Some(digest)) => digest.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_split_at_the_tag_and_digest_not_the_registry_port() {
        let r = ImageRef::parse("registry.example.com:5000/shop/web:1.4.2");
        assert_eq!(r.repository, "registry.example.com:5000/shop/web");
        assert_eq!(r.tag.as_deref(), Some("1.4.2"));
        assert_eq!(r.short_name(), "web");
        let r = ImageRef::parse("localhost:5000/web@sha256:abc");
        assert_eq!(
            (r.repository.as_str(), r.tag, r.digest.as_deref()),
            ("localhost:5000/web", None, Some("sha256:abc"))
        );
        let r = ImageRef::parse("nginx:1.25@sha256:abc");
        assert_eq!(r.version(), "1.25@sha256:abc");
        assert_eq!(ImageRef::parse("nginx").version(), "latest");
    }

    #[test]
    fn cron_jobs_and_init_containers_are_workloads() {
        let job = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "run", "image": "tool:2"}],
            "initContainers": [{"name": "prep", "image": "busybox:1"}]}}}}}});
        let found = container_images("CronJob", &job);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[1].pointer,
            "/spec/jobTemplate/spec/template/spec/initContainers/0/image"
        );
        assert!(container_images("ConfigMap", &json!({"data": {}})).is_empty());
    }

    #[test]
    fn only_containers_whose_images_differ_are_listed() {
        let c = |n: &str, i: &str| ContainerImage {
            container: n.into(),
            image: i.into(),
            pointer: String::new(),
        };
        let found = differences(
            "Deployment/web",
            &[c("app", "web:2"), c("proxy", "envoy:1")],
            &[
                c("app", "web:1"),
                c("proxy", "envoy:1"),
                c("debug", "busybox"),
            ],
        );
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].a.as_deref(), found[0].b.as_deref()),
            (Some("web:2"), Some("web:1"))
        );
        assert_eq!(
            (found[1].container.as_str(), found[1].a.as_deref()),
            ("debug", None)
        );
    }
}
