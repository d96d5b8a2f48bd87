//! `gitops compare A B`: two targets' renders side by side, with no cluster (issue 18).
//! A side is a target of gitops.yaml, a PATH, or `TARGET@REV` (the target as Git held it at a
//! revision). Exit 0 when the sides run the same images and have the same objects, 2 when not
//! (0 with `--exit-zero`), 1 on errors.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::render::render_target;
use super::{resolve_all, run_flags};
use crate::cli::{CompareArgs, GlobalArgs, OutputFormat};
use crate::compare::{self, Chart, Comparison, Side};
use crate::config::Config;
use crate::exit::{Exit, UsageError};
use crate::render::{Manifest, Source, SourceKind};
use crate::report::compare::{self as report, Live};
use crate::resolved::Resolved;
use crate::source::{self, Snapshot};
use crate::target::{self, Selection, Target};

pub fn run(global: &GlobalArgs, args: &CompareArgs) -> anyhow::Result<Exit> {
    let compared = compare_sides(global, &args.a, &args.b)?;
    let comparison = &compared.comparison;
    let live = match args.live {
        true => Some(live(&compared)?),
        false => None,
    };
    let text = match global.output {
        OutputFormat::Json => report::json(comparison, live.as_ref().map(Live::json)),
        OutputFormat::Markdown => report::markdown(comparison, live.as_ref()),
        OutputFormat::Text | OutputFormat::Csv => {
            let mut text = report::text(comparison);
            if let Some(live) = &live {
                text.push_str(&report::live_text(comparison, live));
            }
            text
        }
    };
    crate::report::write_stdout(&text)?;
    // With --live the deployed revisions decide; else the renders' images and objects.
    let differ = match &live {
        Some(live) => !live.same(),
        None => !comparison.agrees(),
    };
    Ok(if differ && !args.exit_zero {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// What compare worked out: the comparison, each side's target and the inputs of its render
/// (relative to the repository root).
pub struct Compared {
    pub comparison: Comparison,
    pub sides: Vec<(Resolved, Vec<PathBuf>)>,
}

/// The revision each side's inventory records, and the commits between them that touch
/// either side's inputs.
fn live(compared: &Compared) -> anyhow::Result<Live> {
    let names = (
        compared.comparison.a.as_str(),
        compared.comparison.b.as_str(),
    );
    let revisions = super::runtime()?.block_on(async {
        let mut revisions = Vec::with_capacity(2);
        for (resolved, _) in &compared.sides {
            let cluster = resolved.connection.connect().await?;
            let inventory = crate::inventory::read(&cluster, &resolved.inventory)
                .await
                .with_context(|| format!("target {}: reading its inventory", resolved.name()))?;
            revisions.push(inventory.map(|i| i.revision));
        }
        anyhow::Ok(revisions)
    })?;
    let mut live = Live {
        a: revisions[0].clone(),
        b: revisions[1].clone(),
        ..Live::default()
    };
    let (Some(a), Some(b)) = (&live.a, &live.b) else {
        return Ok(live);
    };
    let commit = |revision: &str, side: &str| -> anyhow::Result<String> {
        let id = revision.trim_end_matches("-dirty");
        if id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_owned());
        }
        anyhow::bail!(
            "{side} was applied from outside Git (its inventory records revision {revision:?}): there are no commits to compare"
        )
    };
    let (a, b) = (commit(a, names.0)?, commit(b, names.1)?);
    if a == b {
        return Ok(live);
    }
    let root = source::repository_root(&source::base_dir()).unwrap_or_else(source::base_dir);
    let mut paths: Vec<PathBuf> = compared
        .sides
        .iter()
        .flat_map(|(_, inputs)| inputs.clone())
        .collect();
    paths.sort();
    paths.dedup();
    let between = source::commits_between(&root, (&a, &b), names, &paths)?;
    live.only_in_a = between.only_in_a;
    live.only_in_b = between.only_in_b;
    Ok(live)
}

/// Both sides rendered (concurrently) and compared.
pub fn compare_sides(global: &GlobalArgs, a: &str, b: &str) -> anyhow::Result<Compared> {
    let sides = render_sides(global, a, b)?;
    let comparison = compare::compare(
        &side(a, &sides.resolved[0], &sides.manifests[0]),
        &side(b, &sides.resolved[1], &sides.manifests[1]),
    );
    Ok(Compared {
        comparison,
        sides: sides.resolved.into_iter().zip(sides.inputs).collect(),
    })
}

/// Two sides, resolved and rendered.
pub struct Sides {
    pub resolved: Vec<Resolved>,
    /// Objects and hook objects of each side.
    pub manifests: Vec<Vec<Manifest>>,
    /// The inputs of each side's render, relative to the repository root.
    pub inputs: Vec<Vec<PathBuf>>,
    /// The commit each side was read at: its `@REV`, else None (the working tree).
    pub revisions: Vec<Option<String>>,
    /// `TARGET@REV` sides are read from these; they live as long as the sides.
    _snapshots: Vec<Snapshot>,
}

/// Resolves both sides and renders them concurrently.
pub fn render_sides(global: &GlobalArgs, a: &str, b: &str) -> anyhow::Result<Sides> {
    if a == b {
        return Err(UsageError(format!(
            "two different sides are needed, and both are {a:?}: name two targets, PATHs or TARGET@REV"
        ))
        .into());
    }
    let config = target::load_config(global.config.as_deref())?;
    let (target_a, snapshot_a) = side_target(global, a, config.as_ref())?;
    let (target_b, snapshot_b) = side_target(global, b, config.as_ref())?;
    let inputs = vec![
        inputs_of(&target_a, snapshot_a.as_ref()),
        inputs_of(&target_b, snapshot_b.as_ref()),
    ];
    let revisions = [&snapshot_a, &snapshot_b]
        .iter()
        .map(|s| s.as_ref().map(|s| s.revision.commit.clone()))
        .collect();
    let resolved = resolve_all(vec![target_a, target_b], &run_flags(global))?;
    let [resolved_a, resolved_b] = resolved.as_slice() else {
        unreachable!("two targets resolve to two")
    };
    let (rendered_a, rendered_b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| render_side(resolved_b, b));
        let first = render_side(resolved_a, a);
        let second = other
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("rendering {b} stopped unexpectedly")));
        (first, second)
    });
    let manifests = vec![rendered_a?, rendered_b?];
    Ok(Sides {
        resolved,
        manifests,
        inputs,
        revisions,
        _snapshots: [snapshot_a, snapshot_b].into_iter().flatten().collect(),
    })
}

/// The inputs of a target's render, relative to the root of its repository (or snapshot).
fn inputs_of(target: &Target, snapshot: Option<&Snapshot>) -> Vec<PathBuf> {
    let Source::Path(path) = &target.source else {
        return Vec::new();
    };
    let root = match snapshot {
        Some(snapshot) => Some(snapshot.root.clone()),
        None => source::repository_root(path),
    };
    let Some(root) = root else {
        return Vec::new();
    };
    crate::render::inputs::inputs(path, &target.helm.values)
        .into_iter()
        .filter_map(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
        .collect()
}

fn side<'a>(name: &'a str, resolved: &'a Resolved, manifests: &'a [Manifest]) -> Side<'a> {
    Side {
        name,
        manifests,
        default_namespace: &resolved.namespace,
        chart: chart_of(&resolved.target),
    }
}

/// A side's objects and hook objects.
fn render_side(resolved: &Resolved, side: &str) -> anyhow::Result<Vec<Manifest>> {
    // No cluster: charts see helm's default capabilities, as `gitops render` does.
    let (mut manifests, hooks) =
        render_target(resolved, None).with_context(|| format!("side {side}: rendering failed"))?;
    manifests.extend(hooks.into_iter().map(|h| h.manifest));
    Ok(manifests)
}

/// The target a side names, and the snapshot of its revision for `TARGET@REV`.
fn side_target(
    global: &GlobalArgs,
    side: &str,
    config: Option<&Config>,
) -> anyhow::Result<(Target, Option<Snapshot>)> {
    match side
        .rsplit_once('@')
        .filter(|(t, rev)| !t.is_empty() && !rev.is_empty())
    {
        None => Ok((current_target(side, config)?, None)),
        Some((name, revision)) => {
            let (target, snapshot) =
                target_at(global, name, revision).with_context(|| format!("side {side}"))?;
            Ok((target, Some(snapshot)))
        }
    }
}

/// A target of gitops.yaml by name, else a PATH.
fn current_target(side: &str, config: Option<&Config>) -> anyhow::Result<Target> {
    if let Some((config, spec)) = config.and_then(|c| Some((c, c.target(side)?))) {
        return target::config_target(config, spec);
    }
    if source::base_dir().join(side).exists() {
        let selection = Selection {
            path: Some(side.to_owned()),
            ..Selection::default()
        };
        return Ok(target::select(&selection, config)?.remove(0));
    }
    let known = match config {
        Some(c) => format!(
            "targets of {}: {}",
            c.file.display(),
            c.target_names().join(", ")
        ),
        None => "no gitops.yaml found".to_owned(),
    };
    anyhow::bail!("{side:?} is neither a target nor a path ({known})")
}

/// The target `name` (or the PATH `name`) as the repository held it at `revision`.
fn target_at(
    global: &GlobalArgs,
    name: &str,
    revision: &str,
) -> anyhow::Result<(Target, Snapshot)> {
    let cwd = source::base_dir();
    let location = match &global.repo {
        Some(url) => url.clone(),
        None => source::repository_root(&cwd)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "TARGET@REV reads Git, but {} is not in a Git repository",
                    cwd.display()
                )
            })?
            .display()
            .to_string(),
    };
    let root = PathBuf::from(&location);
    let snapshot = source::snapshot(&location, Some(revision))?;
    // gitops.yaml where it is now, read as it was at the revision.
    let config_now = target::config_file(global.config.as_deref());
    let relative = |path: &Path| {
        let absolute = path.canonicalize().ok()?;
        let root = root.canonicalize().ok()?;
        absolute.strip_prefix(root).ok().map(Path::to_path_buf)
    };
    if let Some(file) = relative(&config_now)
        .map(|r| snapshot.root.join(r))
        .filter(|f| f.is_file())
    {
        let config = Config::load(&file)?;
        if let Some(spec) = config.target(name) {
            let target = target::config_target(&config, spec)?;
            return Ok((target, snapshot));
        }
    }
    let within = relative(&cwd).unwrap_or_default().join(name);
    let path = snapshot.root.join(&within);
    if !path.exists() {
        anyhow::bail!(
            "no target named {name:?} in gitops.yaml at {revision} ({}), and no path {} there",
            snapshot.revision.commit,
            within.display()
        );
    }
    let mut target = target::select(
        &Selection {
            path: Some(path.display().to_string()),
            ..Selection::default()
        },
        None,
    )?
    .remove(0);
    target.name = target::name_for_path(&within);
    Ok((target, snapshot))
}

/// For a Helm chart target: its Chart.yaml's name, version and appVersion.
fn chart_of(target: &Target) -> Option<Chart> {
    let Source::Path(path) = &target.source else {
        return None;
    };
    if !matches!(crate::render::detect(path), Ok(SourceKind::Helm)) {
        return None;
    }
    let text = std::fs::read_to_string(path.join("Chart.yaml")).ok()?;
    let chart: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let field = |key: &str| -> Option<String> {
        match chart.get(key)? {
            serde_yaml::Value::String(s) => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    Some(Chart {
        name: field("name")?,
        version: field("version").unwrap_or_default(),
        app_version: field("appVersion"),
    })
}
