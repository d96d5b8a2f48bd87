#!/usr/bin/env bash
# gitops-ci.sh: the steps the CI templates run, in one place, so that GitHub Actions, GitLab CI
# and the test suite run exactly the same thing.
#
#   gitops-ci.sh diff     plan (Markdown) into the job summary / an artifact, and one PR/MR
#                         comment that is updated, not duplicated; fails only on errors (exit 1)
#   gitops-ci.sh apply    gitops apply; exit code as gitops gives it (0, 1, 3, and 4 when
#                         GITOPS_ARGS has --fail-on-destructive and the plan deletes something)
#   gitops-ci.sh drift    gitops diff --only drift against the cluster: drift (exit 2) fails
#                         the job, with the drift in the summary; merged changes waiting for
#                         their apply do not. With GITOPS_NOTIFY_URL set, gitops posts the alert
#                         to that webhook once per change of drift state
#   gitops-ci.sh gate     which targets' plans delete or prune something: outputs targets and
#                         destructive (JSON arrays of target names), for an approval step
#   gitops-ci.sh targets  the target names of gitops.yaml as a JSON array (matrix fan-out)
#   gitops-ci.sh promote  gitops promote GITOPS_PROMOTE_FROM GITOPS_PROMOTE_TO --commit, then
#                         pushes the branch and opens a pull request (GitHub, with the gh CLI)
#                         or a merge request (GitLab, with push options); nothing to promote
#                         is success with promoted=false
#
# Environment (all optional):
#   GITOPS_BIN              the gitops binary (default: gitops on PATH)
#   GITOPS_TARGET           one target of gitops.yaml (default: every target)
#   GITOPS_ARGS             more arguments for gitops, e.g. "--timeout 10m"
#   GITOPS_KUBECONFIG_DATA  a kubeconfig's content (from the CI's secret store); written to a
#                           private file for this job, never printed. Else KUBECONFIG as set.
#   GITOPS_OUTPUT_DIR       where gitops-plan.md goes (default: the current directory)
#   GITOPS_COMMENT          "false" turns the PR/MR comment off
#   GITOPS_NOTIFY_URL       drift: a Slack-style incoming webhook (a secret; never printed)
#   GITOPS_PROMOTE_FROM, GITOPS_PROMOTE_TO   promote: the two targets
#   GITOPS_PROMOTE_IMAGES   promote: only these images (space-separated names)
#   GITOPS_PROMOTE_BASE     promote: the branch the request targets (default: the CI's
#                           default branch, else the current one)
#   GITOPS_PUSH_REMOTE      promote: the remote to push to (default: origin)
#   GitHub: GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_TOKEN, GITHUB_API_URL, GITHUB_REPOSITORY,
#           GITHUB_EVENT_PATH (or GITOPS_PR_NUMBER)
#   GitLab: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITOPS_GITLAB_TOKEN (a token with
#           the api scope: CI_JOB_TOKEN cannot write notes)
#   GitLab promote: GITOPS_GITLAB_TOKEN must be allowed to push (write_repository)
# Outputs (GITHUB_OUTPUT, else printed as key=value on stdout): exit-code, changes, targets,
# destructive; promote: promoted, branch.
set -euo pipefail
# Never trace: the environment holds credentials.
set +x

mode=${1:-}
gitops=${GITOPS_BIN:-gitops}
out_dir=${GITOPS_OUTPUT_DIR:-.}
plan_file=$out_dir/gitops-plan.md
marker="<!-- gitops-plan:${GITOPS_TARGET:-all} -->"

die() { echo "gitops-ci: $*" >&2; exit 1; }

# A kubeconfig from the secret store: a file only this job's user can read, removed at exit.
if [[ -n ${GITOPS_KUBECONFIG_DATA:-} ]]; then
    kubeconfig=$(umask 077; mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/gitops-kubeconfig.XXXXXX")
    trap 'rm -f "$kubeconfig"' EXIT
    printf '%s\n' "$GITOPS_KUBECONFIG_DATA" > "$kubeconfig"
    export KUBECONFIG=$kubeconfig
fi

args=()
[[ -n ${GITOPS_TARGET:-} ]] && args+=(--target "$GITOPS_TARGET")
if [[ -n ${GITOPS_ARGS:-} ]]; then
    read -r -a extra <<< "$GITOPS_ARGS"
    args+=("${extra[@]}")
fi

output() {
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"
    else
        printf '%s=%s\n' "$1" "$2"
    fi
}

summary() {
    if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
        cat >> "$GITHUB_STEP_SUMMARY"
    else
        cat >&2
    fi
}

# A JSON string of stdin (jq on GitHub's runners; python3 elsewhere).
json_string() {
    if command -v jq >/dev/null; then
        jq -Rs .
    elif command -v python3 >/dev/null; then
        python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))'
    else
        die "posting the plan needs jq or python3"
    fi
}

# The id of the first item of a JSON array whose "body" contains the marker.
find_marked_id() {
    if command -v jq >/dev/null; then
        jq -r --arg m "$marker" '[.[] | select(.body | contains($m))][0].id // empty'
    else
        python3 -c 'import json, sys
m = sys.argv[1]
ids = [str(c["id"]) for c in json.load(sys.stdin) if m in (c.get("body") or "")]
print(ids[0] if ids else "")' "$marker"
    fi
}

# Posts BODY to LIST_URL, or when a comment there carries the marker, sends it to
# ITEM_URL/<id> with UPDATE_METHOD instead. Headers come from the array `auth`.
upsert() {
    local body=$1 list_url=$2 item_url=$3 update_method=$4 where=$5 id
    id=$(curl -fsS "${auth[@]}" "$list_url?per_page=100" | find_marked_id)
    if [[ -n $id ]]; then
        curl -fsS -o /dev/null -X "$update_method" "${auth[@]}" "$item_url/$id" -d "{\"body\": $body}"
        echo "gitops-ci: updated the plan on $where" >&2
    else
        curl -fsS -o /dev/null -X POST "${auth[@]}" "$list_url" -d "{\"body\": $body}"
        echo "gitops-ci: posted the plan on $where" >&2
    fi
}

# One comment per target on the pull/merge request, updated on every push.
comment() {
    [[ ${GITOPS_COMMENT:-true} == false ]] && return 0
    local body
    body=$( { echo "$marker"; cat "$plan_file"; } | json_string)
    if [[ -n ${GITHUB_ACTIONS:-} ]]; then
        local pr=${GITOPS_PR_NUMBER:-}
        if [[ -z $pr && -n ${GITHUB_EVENT_PATH:-} && -f ${GITHUB_EVENT_PATH} ]]; then
            pr=$( (jq -r '.pull_request.number // empty' "$GITHUB_EVENT_PATH" 2>/dev/null) || true)
        fi
        if [[ -z $pr || -z ${GITHUB_TOKEN:-} ]]; then
            echo "gitops-ci: no pull request or no GITHUB_TOKEN: plan in the job summary only" >&2
            return 0
        fi
        local api=${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY
        auth=(-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json")
        upsert "$body" "$api/issues/$pr/comments" "$api/issues/comments" PATCH "pull request #$pr"
    elif [[ -n ${GITLAB_CI:-} ]]; then
        if [[ -z ${CI_MERGE_REQUEST_IID:-} || -z ${GITOPS_GITLAB_TOKEN:-} ]]; then
            echo "gitops-ci: no merge request or no GITOPS_GITLAB_TOKEN: plan in the artifact only" >&2
            return 0
        fi
        local notes=$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes
        auth=(-H "PRIVATE-TOKEN: $GITOPS_GITLAB_TOKEN" -H "Content-Type: application/json")
        upsert "$body" "$notes" "$notes" PUT "merge request !$CI_MERGE_REQUEST_IID"
    fi
}

# gitops diff -o markdown (and any more arguments) into the plan file; its exit code in $code.
plan() {
    mkdir -p "$out_dir"
    set +e
    "$gitops" diff -o markdown "$@" "${args[@]}" > "$plan_file"
    code=$?
    set -e
}

# Target names from gitops diff's JSON (one plan, or an array of plans): all, and those whose
# plan is destructive.
gate_lists() {
    if command -v jq >/dev/null; then
        jq -c '(if type == "array" then . else [.] end) | ([.[].target], [.[] | select(.summary.destructive > 0) | .target])'
    else
        python3 -c 'import json, sys
plans = json.load(sys.stdin)
plans = plans if isinstance(plans, list) else [plans]
print(json.dumps([p["target"] for p in plans], separators=(",", ":")))
print(json.dumps([p["target"] for p in plans if p["summary"].get("destructive", 0) > 0], separators=(",", ":")))'
    fi
}

case $mode in
    diff)
        plan
        output exit-code "$code"
        case $code in
            0) output changes false ;;
            2) output changes true ;;
            *) output changes unknown
               { echo "### gitops diff failed (exit $code)"; echo; echo "See the job log."; } | summary
               exit "$code" ;;
        esac
        summary < "$plan_file"
        comment
        ;;
    drift)
        plan --only drift
        output exit-code "$code"
        case $code in
            0) output changes false
               echo "### No drift: the cluster matches Git" | summary ;;
            2) output changes true
               { echo "### Drift: the cluster differs from Git"; echo; cat "$plan_file"; } | summary
               echo "gitops-ci: drift detected (see the job summary / $plan_file)" >&2 ;;
            *) output changes unknown
               { echo "### gitops diff failed (exit $code)"; echo; echo "See the job log."; } | summary ;;
        esac
        exit "$code"
        ;;
    gate)
        set +e
        json=$("$gitops" diff -o json "${args[@]}")
        code=$?
        set -e
        if [[ $code != 0 && $code != 2 ]]; then
            { echo "### gitops diff failed (exit $code)"; echo; echo "See the job log."; } | summary
            exit "$code"
        fi
        { read -r all; read -r destructive; } < <(gate_lists <<< "$json")
        output targets "$all"
        output destructive "$destructive"
        if [[ $destructive != "[]" ]]; then
            echo "### gitops: destructive plans need a review: $destructive" | summary
        fi
        ;;
    apply)
        set +e
        "$gitops" apply "${args[@]}"
        code=$?
        set -e
        output exit-code "$code"
        case $code in
            0) echo "### gitops apply: applied and healthy${GITOPS_TARGET:+ ($GITOPS_TARGET)}" | summary ;;
            3) echo "### gitops apply: applied, but not healthy in time${GITOPS_TARGET:+ ($GITOPS_TARGET)}" | summary ;;
            4) echo "### gitops apply refused: the plan deletes or prunes something${GITOPS_TARGET:+ ($GITOPS_TARGET)}; nothing was written. Review it, then run the approved (destructive) apply" | summary ;;
            *) echo "### gitops apply failed (exit $code)${GITOPS_TARGET:+ ($GITOPS_TARGET)}" | summary ;;
        esac
        # What is deployed now, member by member with its health (targets of gitops.yaml only:
        # a PATH given in GITOPS_ARGS has no target name to look up).
        if [[ -z ${GITOPS_ARGS:-} || -n ${GITOPS_TARGET:-} ]]; then
            status_args=()
            [[ -n ${GITOPS_TARGET:-} ]] && status_args+=(--target "$GITOPS_TARGET")
            { echo; "$gitops" status -o markdown "${status_args[@]}" 2>/dev/null || true; } | summary
        fi
        exit "$code"
        ;;
    targets)
        json=$("$gitops" targets --json)
        if command -v jq >/dev/null; then
            names=$(jq -c '[.[].name]' <<< "$json")
        else
            names=$(python3 -c 'import json, sys; print(json.dumps([t["name"] for t in json.load(sys.stdin)]))' <<< "$json")
        fi
        output targets "$names"
        ;;
    promote)
        from=${GITOPS_PROMOTE_FROM:-}
        to=${GITOPS_PROMOTE_TO:-}
        [[ -n $from && -n $to ]] || die "promote needs GITOPS_PROMOTE_FROM and GITOPS_PROMOTE_TO (targets of gitops.yaml)"
        promote_args=()
        if [[ -n ${GITOPS_PROMOTE_IMAGES:-} ]]; then
            read -r -a images <<< "$GITOPS_PROMOTE_IMAGES"
            for image in "${images[@]}"; do promote_args+=(--image "$image"); done
        fi
        base=${GITOPS_PROMOTE_BASE:-${CI_DEFAULT_BRANCH:-${GITHUB_REF_NAME:-$(git branch --show-current)}}}
        before=$(git rev-parse HEAD)
        set +e
        "$gitops" promote "$from" "$to" --commit "${promote_args[@]}"
        code=$?
        set -e
        output exit-code "$code"
        if [[ $code != 0 ]]; then
            echo "### gitops promote $from → $to failed (exit $code)" | summary
            exit "$code"
        fi
        if [[ $(git rev-parse HEAD) == "$before" ]]; then
            output promoted false
            echo "### gitops promote: $to already runs $from's images" | summary
            exit 0
        fi
        branch=$(git branch --show-current)
        title="Promote $from to $to"
        body=$(git log -1 --format=%b)
        remote=${GITOPS_PUSH_REMOTE:-origin}
        if [[ -n ${GITLAB_CI:-} ]]; then
            # The job token cannot push: a token with write_repository, given to git by a
            # credential helper so that it never appears in a URL or a message.
            push=(git)
            if [[ -n ${GITOPS_GITLAB_TOKEN:-} && -n ${CI_SERVER_HOST:-} && -n ${CI_PROJECT_PATH:-} ]]; then
                push+=(-c "credential.helper=!f() { echo username=oauth2; echo \"password=\$GITOPS_GITLAB_TOKEN\"; }; f")
                remote="https://$CI_SERVER_HOST/$CI_PROJECT_PATH.git"
            fi
            "${push[@]}" push -q \
                -o merge_request.create \
                -o "merge_request.target=$base" \
                -o "merge_request.title=$title" \
                -o "merge_request.description=$body" \
                -o merge_request.remove_source_branch \
                "$remote" "$branch"
        else
            git push -q "$remote" "$branch"
            "${GITOPS_GH:-gh}" pr create --base "$base" --head "$branch" --title "$title" --body "$body"
        fi
        output promoted true
        output branch "$branch"
        { echo "### gitops promote: $title"; echo; echo "Branch \`$branch\`, request opened against \`$base\`:"; echo; sed 's/^/- /' <<< "$body"; } | summary
        ;;
    *)
        echo "usage: gitops-ci.sh diff|apply|drift|gate|targets|promote" >&2
        exit 64
        ;;
esac
