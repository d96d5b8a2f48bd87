#!/usr/bin/env bash
# install-gitops.sh VERSION DIR: installs the gitops release VERSION into DIR/bin/gitops, from
# the release's tarball for this machine, verified against the release's SHA256SUMS. Nothing is
# installed when the checksum does not match or is missing.
#
#   GITOPS_RELEASE_URL  where the releases are (default:
#                       https://github.com/gitops-dev/gitops/releases/download); the files are
#                       $GITOPS_RELEASE_URL/vVERSION/gitops-VERSION-TARGET.tar.gz and SHA256SUMS
#   GITOPS_FROM_SOURCE  "true": build with cargo install from GITOPS_REPOSITORY instead
set -euo pipefail
version=${1:?usage: install-gitops.sh VERSION DIR}
dir=${2:?usage: install-gitops.sh VERSION DIR}
base=${GITOPS_RELEASE_URL:-https://github.com/gitops-dev/gitops/releases/download}

if [[ ${GITOPS_FROM_SOURCE:-false} == true ]]; then
    cargo install --locked --root "$dir" --git "${GITOPS_REPOSITORY:-https://github.com/gitops-dev/gitops}" --tag "v$version" gitops
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-musl ;;
    Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    Darwin-arm64) target=aarch64-apple-darwin ;;
    *) echo "install-gitops: no release for $(uname -s) $(uname -m); set GITOPS_FROM_SOURCE=true to build it" >&2; exit 1 ;;
esac
archive=gitops-$version-$target.tar.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { curl -fsSL --retry 3 -o "$work/$2" "$base/v$version/$1"; }
fetch "$archive" "$archive" || { echo "install-gitops: cannot download $base/v$version/$archive" >&2; exit 1; }
fetch SHA256SUMS SHA256SUMS || { echo "install-gitops: cannot download the release's SHA256SUMS" >&2; exit 1; }
expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")
[[ -n $expected ]] || { echo "install-gitops: SHA256SUMS lists no $archive" >&2; exit 1; }
if command -v sha256sum >/dev/null; then
    actual=$(sha256sum "$work/$archive" | cut -d' ' -f1)
else
    actual=$(shasum -a 256 "$work/$archive" | cut -d' ' -f1)
fi
if [[ $actual != "$expected" ]]; then
    echo "install-gitops: $archive does not match its checksum (expected $expected, got $actual); nothing installed" >&2
    exit 1
fi
tar -xzf "$work/$archive" -C "$work"
mkdir -p "$dir/bin"
install -m 0755 "$work/gitops" "$dir/bin/gitops"
echo "install-gitops: gitops $version ($target) verified and installed in $dir/bin" >&2
