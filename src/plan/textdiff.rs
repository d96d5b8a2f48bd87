//! The unified YAML diff shown for one object.

use serde_json::Value;
use similar::TextDiff;

use crate::yaml;

/// Unified diff (hunks only, 3 lines of context) from `old` to `new`; empty when equal.
pub fn unified(old: Option<&Value>, new: Option<&Value>) -> String {
    let old = old.map(yaml::to_string).unwrap_or_default();
    let new = new.map(yaml::to_string).unwrap_or_default();
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_only_what_changed() {
        let old = json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7});
        let new = json!({"a": 1, "b": 2, "c": 3, "d": 40, "e": 5, "f": 6, "g": 7});
        let diff = unified(Some(&old), Some(&new));
        assert_eq!(
            diff,
            "@@ -1,7 +1,7 @@\n a: 1\n b: 2\n c: 3\n-d: 4\n+d: 40\n e: 5\n f: 6\n g: 7\n"
        );
        assert_eq!(unified(Some(&old), Some(&old)), "");
        assert!(unified(None, Some(&new))
            .lines()
            .skip(1)
            .all(|l| l.starts_with('+')));
    }
}
