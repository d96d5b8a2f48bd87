//! The command line of SPEC.md, parsed once into these values (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::log::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "gitops",
    version,
    about = "Render, diff and apply Kubernetes config kept in Git",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file (else KUBECONFIG, else ~/.kube/config, else in-cluster)
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace for namespaced objects that name none (else the target's, the context's, default)
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// gitops.yaml to use (default: gitops.yaml at the repository root)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Select a target of gitops.yaml (repeatable)
    #[arg(long = "target", global = true, value_name = "NAME")]
    pub targets: Vec<String>,
    /// Clone this Git repository (URL or local path) and read the config from it instead of the working tree
    #[arg(long, global = true, value_name = "URL")]
    pub repo: Option<String>,
    /// Branch, tag or commit to read (with --repo: of that repository; alone: of the local one)
    #[arg(long = "ref", global = true, value_name = "REF")]
    pub reference: Option<String>,
    /// Name of a PATH's target (names its inventory)
    #[arg(long, global = true, value_name = "NAME")]
    pub name: Option<String>,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Colour: auto (terminals, unless NO_COLOR is set), always or never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Only errors and results
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Show details of what gitops does (never credentials or secret values)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
    /// Comma-separated values (`gitops stats` only)
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render manifests to a YAML stream, in apply order (no cluster access)
    Render(RenderArgs),
    /// Plan against the live cluster and print it (exit 2 when something would change)
    Diff(DiffArgs),
    /// Plan, apply with server-side apply, prune, and wait until healthy (exit 3 when not in time)
    Apply(ApplyArgs),
    /// What the inventory says is deployed: revision, last apply, members and their live health
    Status(StatusArgs),
    /// Past applies of a target: number, time, revision, result, counts, duration, user (`--show N`: one in full)
    History(HistoryArgs),
    /// What differs between two targets' renders: images first, objects only one side has, other fields (no cluster access)
    Compare(CompareArgs),
    /// Edit B's source so that its workloads run A's images (prints the edits; --write, --commit)
    Promote(PromoteArgs),
    /// Delivery figures per target from the recorded applies: frequency, lead time, failure rate, time to restore
    Stats(StatsArgs),
    /// Render a past revision from Git and apply it (default: the last successful one before the current)
    Rollback(RollbackArgs),
    /// List the targets of gitops.yaml (for CI matrix fan-out)
    Targets(TargetsArgs),
    /// Print the JSON Schema (draft 2020-12) of a JSON output (no cluster access)
    Schema(SchemaArgs),
    /// Version of gitops and of the renderers it found
    Version,
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish
    Completion(CompletionArgs),
    /// Find what the repository can deploy and write gitops.yaml (and CI files with --ci)
    Init(InitArgs),
    /// Print the man page (or write one per command into --dir)
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Directory or file to render; `-` reads stdin (default: the targets of gitops.yaml)
    pub path: Option<String>,
    /// Print Secret values instead of <hidden> (to stdout only, for piping into another tool)
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Targets read at once (API requests stay bounded per cluster)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Directory or file to plan; `-` reads stdin (default: the targets of gitops.yaml)
    pub path: Option<String>,
    /// Exit 0 also when there are changes (errors still exit 1)
    #[arg(long)]
    pub exit_zero: bool,
    /// Most API requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Dry-run every object on the server, also those the plan can prove unchanged
    #[arg(long)]
    pub full_dry_run: bool,
    /// Plan the creation of the target's namespace when it does not exist (as apply does)
    #[arg(long)]
    pub create_namespace: bool,
    /// Plan deletes of objects no longer rendered (default; as apply does)
    #[arg(long, overrides_with = "no_prune")]
    pub prune: bool,
    /// Plan no deletes: objects no longer rendered are listed as kept (as apply --no-prune)
    #[arg(long)]
    pub no_prune: bool,
    /// Show and count only the changes of this cause (`both` counts for each); the exit code
    /// follows what is shown
    #[arg(long, value_enum, value_name = "CAUSE")]
    pub only: Option<OnlyCause>,
    /// Post to this webhook when the target's drift appears, changes or is gone (Slack-style
    /// JSON with a `text` field). The URL is a credential: it is never printed
    #[arg(
        long,
        value_name = "URL",
        env = "GITOPS_NOTIFY_URL",
        hide_env_values = true
    )]
    pub notify: Option<String>,
    /// Exit 4 when the plan deletes or prunes something (4 wins over 2)
    #[arg(long, conflicts_with = "exit_zero")]
    pub fail_on_destructive: bool,
    /// Plan the other targets when one cannot be planned; the run then exits 1
    #[arg(long)]
    pub keep_going: bool,
    /// Targets planned at once (API requests stay bounded per cluster by --concurrency)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

/// The causes `diff --only` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnlyCause {
    /// Changes the cluster caused: hand edits, deletes, controllers (`drift` and `both`)
    Drift,
    /// Changes from Git not applied yet (`pending` and `both`)
    Pending,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Directory or file to apply; `-` reads stdin (default: the targets of gitops.yaml)
    pub path: Option<String>,
    #[command(flatten)]
    pub flags: ApplyFlags,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Revision to roll back to: a commit, tag or branch (default: the last successful apply before the current revision)
    #[arg(long, value_name = "REV")]
    pub to: Option<String>,
    #[command(flatten)]
    pub flags: ApplyFlags,
}

/// What `apply` and `rollback` share.
#[derive(Debug, Args)]
pub struct ApplyFlags {
    /// Delete objects of the inventory that are no longer rendered (default)
    #[arg(long, overrides_with = "no_prune")]
    pub prune: bool,
    /// Leave objects that are no longer rendered in the cluster
    #[arg(long)]
    pub no_prune: bool,
    /// Wait until every object is healthy (default)
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Do not wait for health (CRDs are still awaited before their custom resources)
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for health, e.g. 90s or 5m (default: the target's timeout, else 5m)
    #[arg(long, value_name = "DURATION", value_parser = crate::clock::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Server dry-run of the whole apply: print the plan, persist nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Take fields that another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// Allow an empty render to delete every object of a non-empty inventory
    #[arg(long)]
    pub allow_empty: bool,
    /// Refuse, before any write, a plan that deletes or prunes something (exit 4)
    #[arg(long)]
    pub fail_on_destructive: bool,
    /// Create the target's namespace when it does not exist
    #[arg(long)]
    pub create_namespace: bool,
    /// Most API requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Go on with the other targets after one failed or was unhealthy (its dependents are
    /// skipped); the exit code is the worst of the run
    #[arg(long)]
    pub keep_going: bool,
    /// Targets applied at once (each after its dependsOn); output stays grouped per target
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

/// `--prune` / `--no-prune` (the last one given wins): Some(choice), or None for the
/// target's own `prune`.
pub fn prune_choice(prune: bool, no_prune: bool) -> Option<bool> {
    if no_prune {
        Some(false)
    } else {
        prune.then_some(true)
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show one apply in full: objects changed, who ran it, each wave and its time (N: the # column)
    #[arg(long, value_name = "N", conflicts_with = "revision")]
    pub show: Option<u64>,
    /// Show in full the newest apply of this revision (a commit id, or its first 4 or more characters)
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Applies that ended since: a time back from now (`30d`, `12w`, `36h`) or a date (`2026-01-01`, RFC 3339)
    #[arg(long, value_name = "SINCE", default_value = "90d", value_parser = crate::clock::parse_since)]
    pub since: crate::clock::Since,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The JSON output whose schema to print, e.g. plan or status (an unknown NAME lists them all)
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// JSON output (same as -o json)
    #[arg(long)]
    pub json: bool,
    /// Only the names, one per line (for scripts and shell completion)
    #[arg(long, conflicts_with = "json")]
    pub names: bool,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, powershell or elvish
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A target of gitops.yaml, a PATH, or TARGET@REV (the target as Git held it at a revision)
    #[arg(value_name = "A")]
    pub a: String,
    /// The other side, named like A
    #[arg(value_name = "B")]
    pub b: String,
    /// Also what is deployed: the revision each target's inventory records and the commits
    /// between them that touch either target's sources; the exit code then follows those
    #[arg(long)]
    pub live: bool,
    /// Exit 0 also when the sides differ (errors still exit 1)
    #[arg(long)]
    pub exit_zero: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Where the images come from: a target of gitops.yaml, a PATH, or TARGET@REV
    #[arg(value_name = "A")]
    pub a: String,
    /// The target (or PATH) whose source is edited
    #[arg(value_name = "B")]
    pub b: String,
    /// Write the edits to B's files (default: print them as a unified diff)
    #[arg(long)]
    pub write: bool,
    /// Write the edits and commit them on a new branch promote/A-to-B-<rev>
    #[arg(long)]
    pub commit: bool,
    /// Promote only this image: a container, workload or image name (repeatable)
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Edit files that have uncommitted changes
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also write the CI files of this system
    #[arg(long, value_enum, value_name = "SYSTEM")]
    pub ci: Option<CiSystem>,
    /// Replace files that exist
    #[arg(long)]
    pub force: bool,
    /// Print what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The CI systems `init --ci` writes files for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiSystem {
    Github,
    Gitlab,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write gitops.1 and a page per command into this directory instead
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
