//! gitops: render Kubernetes config kept in Git, plan it against the live cluster, apply it.
//!
//! Stages, each a module handing the next a plain value:
//! cli → config/target → source → render (manifests with their origin) → validate + order →
//! report. See docs/architecture.md.

pub mod apply;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod compare;
pub mod config;
pub mod exit;
pub mod identity;
pub mod init;
pub mod inventory;
pub mod kinds;
pub mod log;
pub mod mask;
pub mod names;
pub mod notify;
pub mod ownership;
pub mod plan;
pub mod progress;
pub mod promote;
pub mod render;
pub mod report;
pub mod resolved;
pub mod source;
pub mod target;
pub mod yaml;

/// Layers point one way (docs/architecture.md): each module may import only the modules listed
/// for it, and no two files of a module import each other. Read from the source, so that an
/// import against the grain fails the suite.
#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Small rules every stage may use; they import none of the stages.
    const BASE: &[&str] = &[
        "clock",
        "exit",
        "identity",
        "kinds",
        "log",
        "mask",
        "names",
        "ownership",
        "yaml",
    ];

    /// The stages and what each may import besides the base modules. `commands` (the glue),
    /// `main` and `lib` may import anything.
    const STAGES: &[(&str, &[&str])] = &[
        ("cli", &[]),
        ("progress", &[]),
        ("config", &[]),
        ("source", &[]),
        ("cluster", &[]),
        ("notify", &[]),
        ("render", &["source"]),
        ("target", &["config", "render", "source"]),
        ("inventory", &["cluster", "render", "source"]),
        (
            "resolved",
            &["cluster", "inventory", "render", "source", "target"],
        ),
        (
            "plan",
            &["cluster", "config", "inventory", "progress", "render"],
        ),
        ("audit", &["inventory"]),
        ("compare", &["render"]),
        ("promote", &["compare", "render"]),
        ("init", &["render"]),
        (
            "report",
            &["audit", "compare", "plan", "inventory", "source"],
        ),
        (
            "apply",
            &[
                "cluster",
                "inventory",
                "plan",
                "progress",
                "render",
                "report",
                "source",
            ],
        ),
    ];

    /// `crate::x` paths a file names, outside its unit tests.
    fn crate_imports(text: &str) -> BTreeSet<String> {
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        let mut found = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![rest
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or_default()],
            };
            found.extend(
                names
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            );
        }
        found
    }

    fn files(module: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        if module.is_dir() {
            for entry in std::fs::read_dir(module).unwrap() {
                out.extend(files(&entry.unwrap().path()));
            }
        } else if module.extension().is_some_and(|e| e == "rs") {
            out.push(module.to_path_buf());
        }
        out
    }

    #[test]
    fn every_stage_imports_only_the_layers_below_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let rules: BTreeMap<&str, &[&str]> = STAGES.iter().copied().collect();
        let mut wrong = Vec::new();
        for (module, allowed) in rules
            .iter()
            .chain(BASE.iter().map(|b| (b, &(&[] as &[&str]))))
        {
            let dir = src.join(module);
            let path = if dir.is_dir() {
                dir
            } else {
                src.join(format!("{module}.rs"))
            };
            assert!(path.exists(), "no module {module} at {}", path.display());
            for file in files(&path) {
                let text = std::fs::read_to_string(&file).unwrap();
                for import in crate_imports(&text) {
                    let fine = import == *module
                        || BASE.contains(&import.as_str()) && !BASE.contains(module)
                        || allowed.contains(&import.as_str());
                    if !fine {
                        wrong.push(format!("{} imports crate::{import}", file.display()));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the layers:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn no_two_files_of_a_module_import_each_other() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pairs = Vec::new();
        for file in files(&src) {
            let Some(dir) = file.parent().filter(|d| *d != src) else {
                continue;
            };
            let text = std::fs::read_to_string(&file).unwrap();
            let own = file.file_stem().unwrap().to_string_lossy().into_owned();
            for sibling in files(dir) {
                let other = sibling.file_stem().unwrap().to_string_lossy().into_owned();
                if other == own || other == "mod" || own == "mod" {
                    continue;
                }
                let back = std::fs::read_to_string(&sibling).unwrap();
                let names = |t: &str, n: &str| {
                    let code = t.split("#[cfg(test)]\nmod tests").next().unwrap_or(t);
                    code.contains(&format!("super::{n}::"))
                        || code.contains(&format!("super::{n};"))
                };
                if own < other && names(&text, &other) && names(&back, &own) {
                    pairs.push(format!("{} <-> {}", file.display(), sibling.display()));
                }
            }
        }
        assert!(
            pairs.is_empty(),
            "files that import each other:\n{}",
            pairs.join("\n")
        );
    }
}
