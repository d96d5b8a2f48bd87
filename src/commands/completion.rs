//! `gitops completion SHELL`: a completion script generated from the command-line definitions;
//! for bash, `--target` and the sides of `compare`/`promote` also complete the target names of
//! the gitops.yaml in reach (`gitops targets --names`).

use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs};
use crate::exit::Exit;

/// Appended to bash's script: target names where a target is expected, else the generated
/// completion.
const BASH_TARGETS: &str = r#"
# Target names of gitops.yaml where a target is expected (gitops targets --names).
_gitops_targets() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command=${COMP_WORDS[1]-}
    if [[ $prev == --target ]] ||
        { [[ $command == compare || $command == promote ]] && [[ $cur != -* ]] && [[ $prev != -* || $prev == --live || $prev == --exit-zero || $prev == --write || $prev == --commit || $prev == --force ]] && (( COMP_CWORD >= 2 )); }; then
        local names
        names=$(gitops targets --names 2>/dev/null)
        if [[ -n $names ]]; then
            COMPREPLY=( $(compgen -W "$names" -- "$cur") )
            return 0
        fi
    fi
    _gitops "$@"
}
complete -F _gitops_targets -o bashdefault -o default gitops
"#;

pub fn run(args: &CompletionArgs) -> anyhow::Result<Exit> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "gitops", &mut script);
    let mut text = String::from_utf8_lossy(&script).into_owned();
    if args.shell == clap_complete::Shell::Bash {
        text.push_str(BASH_TARGETS);
    }
    crate::report::write_stdout(&text)?;
    Ok(Exit::Success)
}
