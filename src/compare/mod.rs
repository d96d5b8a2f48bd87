//! `gitops compare A B`: what differs between two renders, with no cluster (issue 18). Images
//! per workload and container first, then objects only one side has, then the other fields of
//! the objects both have.

pub mod fields;
pub mod images;
pub mod pair;

use serde::Serialize;

use crate::render::Manifest;
pub use fields::FieldDifference;
pub use images::ImageDifference;

/// One side of a comparison: a target's render.
pub struct Side<'a> {
    pub name: &'a str,
    /// Objects and hook objects alike: a migration Job's image is an image of the release.
    pub manifests: &'a [Manifest],
    pub default_namespace: &'a str,
    /// For a Helm chart: what its Chart.yaml says.
    pub chart: Option<Chart>,
}

/// A chart's name, version and appVersion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
}

/// What differs between A and B.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// The namespaces paired across (A's, B's), when the sides use different ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charts: Option<Charts>,
    pub images: Vec<ImageDifference>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    pub fields: Vec<FieldDifference>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespaces {
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charts {
    pub a: Option<Chart>,
    pub b: Option<Chart>,
}

/// The counts of the one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub images: usize,
    pub only_in_a: usize,
    pub only_in_b: usize,
    pub fields: usize,
}

impl Comparison {
    pub fn summary(&self) -> Summary {
        Summary {
            images: self.images.len(),
            only_in_a: self.only_in_a.len(),
            only_in_b: self.only_in_b.len(),
            fields: self.fields.len(),
        }
    }

    /// The sides run the same images and have the same objects (fields may differ: replicas
    /// and resources usually do between environments).
    pub fn agrees(&self) -> bool {
        self.images.is_empty() && self.only_in_a.is_empty() && self.only_in_b.is_empty()
    }
}

pub fn compare(a: &Side<'_>, b: &Side<'_>) -> Comparison {
    let pairing = pair::pair(
        pair::entries(a.manifests, a.default_namespace),
        pair::entries(b.manifests, b.default_namespace),
    );
    let mut found_images = Vec::new();
    let mut found_fields = Vec::new();
    for (ea, eb) in &pairing.pairs {
        let label = ea.label();
        let (ia, ib) = (
            images::container_images(&ea.kind, ea.object),
            images::container_images(&eb.kind, eb.object),
        );
        found_images.extend(images::differences(&label, &ia, &ib));
        // Images are reported above, and the namespace is how the sides were paired.
        let mut skip: Vec<String> = ia.iter().chain(&ib).map(|c| c.pointer.clone()).collect();
        skip.push("/metadata/namespace".to_owned());
        found_fields.extend(fields::differences(
            &label,
            ea.object,
            eb.object,
            &skip,
            &pairing.renames,
        ));
    }
    let charts = (a.chart.is_some() || b.chart.is_some()).then(|| Charts {
        a: a.chart.clone(),
        b: b.chart.clone(),
    });
    Comparison {
        a: a.name.to_owned(),
        b: b.name.to_owned(),
        namespaces: pairing.across.map(|(a, b)| Namespaces { a, b }),
        charts,
        images: found_images,
        only_in_a: pairing.only_in_a.iter().map(pair::Entry::label).collect(),
        only_in_b: pairing.only_in_b.iter().map(pair::Entry::label).collect(),
        fields: found_fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::manifest::parse_stream;

    const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: REPLICAS\n  template:\n    spec:\n      containers:\n      - {name: app, image: 'registry.example.com/web:TAG'}\n";

    fn side<'a>(name: &'a str, manifests: &'a [Manifest], ns: &'a str) -> Side<'a> {
        Side {
            name,
            manifests,
            default_namespace: ns,
            chart: None,
        }
    }

    #[test]
    fn images_objects_and_fields_are_told_apart() {
        let staging = parse_stream(
            &format!(
                "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: flags}}\n",
                WEB.replace("REPLICAS", "1").replace("TAG", "1.5.0")
            ),
            "s.yaml",
        )
        .unwrap();
        let production = parse_stream(
            &WEB.replace("REPLICAS", "3").replace("TAG", "1.4.2"),
            "p.yaml",
        )
        .unwrap();
        let found = compare(
            &side("staging", &staging, "staging"),
            &side("production", &production, "production"),
        );
        assert_eq!(
            found.images,
            [ImageDifference {
                workload: "Deployment/staging/web".into(),
                container: "app".into(),
                a: Some("registry.example.com/web:1.5.0".into()),
                b: Some("registry.example.com/web:1.4.2".into()),
            }]
        );
        assert_eq!(found.only_in_a, ["ConfigMap/staging/flags"]);
        let fields: Vec<&str> = found.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(fields, ["/spec/replicas"]);
        assert!(!found.agrees());
        assert_eq!(
            found.namespaces,
            Some(Namespaces {
                a: "staging".into(),
                b: "production".into()
            })
        );
    }

    #[test]
    fn equal_images_and_objects_agree_whatever_the_fields() {
        let a = parse_stream(&WEB.replace("REPLICAS", "1").replace("TAG", "1"), "a.yaml").unwrap();
        let b = parse_stream(&WEB.replace("REPLICAS", "2").replace("TAG", "1"), "b.yaml").unwrap();
        let found = compare(&side("a", &a, "x"), &side("b", &b, "y"));
        assert!(found.agrees());
        assert_eq!(
            found.summary(),
            Summary {
                images: 0,
                only_in_a: 0,
                only_in_b: 0,
                fields: 1
            }
        );
    }
}
