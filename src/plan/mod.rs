//! Plan stage: what applying a render would change in the cluster, object by object.
//!
//! `build` asks the cluster (live state and a server-side dry-run apply); everything else here is
//! plain functions over values. The resulting `Plan` is what diff prints and apply executes.

pub mod adopt;
mod build;
pub mod cause;
mod compare;
pub mod conflict;
pub mod defaults;
pub mod destructive;
mod explain;
pub mod fields;
pub mod hooks;
pub mod immutable;
pub mod normalize;
mod prepare;
pub mod prune;
pub mod shortcut;
pub mod textdiff;
pub mod witness;

use serde_json::Value;

pub use build::{build, ignored_by_flux, whole_object, PlanError, PlanRequest};

use crate::cluster::ResourceInfo;
use crate::inventory::{Inventory, InventoryRef, Member, Witness};
use crate::kinds::KindRank;
use crate::render::Origin;
pub use cause::{Cause, DriftedField};
pub use hooks::PlannedHook;

/// What a change does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Unchanged => "unchanged",
        }
    }

    /// The header mark of SPEC.md: `+` create, `~` update, `-` delete.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Unchanged => " ",
        }
    }
}

/// One object of the plan.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: Action,
    pub resource: ResourceInfo,
    pub namespace: Option<String>,
    pub name: String,
    /// The object to apply: as rendered, with its namespace and native defaults filled in.
    pub desired: Option<Value>,
    /// Where the desired object was written.
    pub origin: Option<Origin>,
    /// Listed in the inventory once applied (false for a namespace made by `createNamespace`).
    pub member: bool,
    /// Unified diff of the normalised live and predicted objects; Secret values masked.
    pub diff: String,
    /// Why the server was not asked for a dry-run (namespace or CRD created by this plan), or
    /// what the dry-run found that the plan must say (a conflict).
    pub note: Option<String>,
    /// Fields other managers own, found by the dry-run; the prediction takes them.
    pub conflict: Option<conflict::Conflict>,
    /// Apply order, worked out once here: the wave (0 for deletes and made namespaces) and the
    /// kind's rank within it.
    pub wave: i64,
    pub rank: KindRank,
    /// Why it changes (meaningful for creates, updates and deletes), and which fields the
    /// cluster changed since the last apply.
    pub cause: Cause,
    pub drifted_fields: Vec<DriftedField>,
    /// What the inventory records once this object is applied (empty parts: not known).
    pub witness: Witness,
    /// Set when the change removes data (every delete), with its reach.
    pub destructive: Option<destructive::Destructive>,
    /// The object exists but is not a member yet: who made it (kubectl, a Helm release, an
    /// Argo CD application…). Applying makes it a member.
    pub adopt: Option<String>,
    /// Written whole (create or PUT) because the server refused server-side apply and the
    /// object asks for it (Argo CD's `Replace=true`).
    pub replace: bool,
}

impl Change {
    /// How the inventory lists this object.
    pub fn member(&self) -> Member {
        Member {
            group: self.resource.resource.group.clone(),
            version: self.resource.resource.version.clone(),
            kind: self.resource.resource.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// `apps/v1 Deployment shop/web`.
    pub fn describe(&self) -> String {
        crate::cluster::objects::describe(&self.resource, self.namespace.as_deref(), &self.name)
    }
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// Changes the cluster caused (`drift` or `both`).
    pub drift: usize,
    /// Changes that remove data.
    pub destructive: usize,
    /// Changes that make an existing object a member.
    pub adopt: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.delete > 0
    }
}

/// The plan of one target.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: String,
    pub revision: String,
    /// Creates, updates and unchanged objects in apply order, then deletes.
    pub changes: Vec<Change>,
    /// The hooks apply runs, by phase, wave and kind; then those it does not run.
    pub hooks: Vec<hooks::PlannedHook>,
    /// Where the target's inventory lives, and what it held when planning (None: never applied).
    pub inventory_ref: InventoryRef,
    pub inventory: Option<Inventory>,
    /// Objects no longer rendered that stay, with why (prune disabled, label missing).
    pub kept: Vec<String>,
    /// Whether stale members were planned as deletes (off: they stay members).
    pub prune: bool,
    /// Set by `keep_only`: the filter, and how many changes it left out.
    pub hidden: Option<(Only, usize)>,
}

/// `diff --only`: the changes of one cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Drift,
    Pending,
}

impl Only {
    pub fn as_str(self) -> &'static str {
        match self {
            Only::Drift => "drift",
            Only::Pending => "pending",
        }
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Delete => summary.delete += 1,
                Action::Unchanged => summary.unchanged += 1,
            }
            if change.action != Action::Unchanged {
                summary.drift += usize::from(change.cause.drifted());
                summary.destructive += usize::from(change.destructive.is_some());
                summary.adopt += usize::from(change.adopt.is_some());
            }
        }
        summary
    }

    /// The changes, without unchanged objects.
    pub fn changed(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.action != Action::Unchanged)
    }

    /// Keeps only the changes of one cause (`both` counts for each); returns how many were
    /// left out (`diff --only`).
    pub fn keep_only(&mut self, only: Only) -> usize {
        let before = self.changes.len();
        self.changes.retain(|c| {
            c.action == Action::Unchanged
                || match only {
                    Only::Drift => c.cause.drifted(),
                    Only::Pending => c.cause.pending(),
                }
        });
        let hidden = before - self.changes.len();
        self.hidden = Some((only, hidden));
        hidden
    }
}
