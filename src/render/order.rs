//! Apply order: waves first, then the kind order of SPEC.md, then the order of the source.

use super::manifest::Manifest;
use crate::kinds::{self, KindRank};

/// Wave annotations, the first present wins.
pub const WAVE_ANNOTATIONS: [&str; 2] = ["gitops.dev/wave", "argocd.argoproj.io/sync-wave"];

/// The wave of an object (default 0), or the annotation and its bad value.
pub fn wave(manifest: &Manifest) -> Result<i64, (&'static str, String)> {
    for key in WAVE_ANNOTATIONS {
        if let Some(value) = manifest.annotation(key) {
            return value.trim().parse().map_err(|_| (key, value.to_owned()));
        }
    }
    Ok(0)
}

/// The sort key of an object; invalid waves sort as 0 (validation reports them).
pub fn apply_key(manifest: &Manifest) -> (i64, KindRank) {
    let kind = manifest.kind().unwrap_or_default();
    (
        wave(manifest).unwrap_or(0),
        kinds::rank(manifest.group(), kind),
    )
}

/// Sorts into apply order; the sort is stable, so equal keys keep the source order.
pub fn sort_for_apply(manifests: &mut [Manifest]) {
    manifests.sort_by_cached_key(apply_key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::manifest::parse_stream;

    #[test]
    fn waves_then_kinds_then_source_order() {
        let text = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: late, annotations: {gitops.dev/wave: "1"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: early, annotations: {argocd.argoproj.io/sync-wave: "-1"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
"#;
        let mut manifests = parse_stream(text, "t.yaml").unwrap();
        sort_for_apply(&mut manifests);
        let names: Vec<_> = manifests.iter().map(|m| m.name().unwrap()).collect();
        assert_eq!(names, ["early", "shop", "b", "a", "web", "w", "late"]);
    }
}
