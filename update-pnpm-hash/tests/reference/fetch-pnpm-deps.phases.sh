# The install and fixup phases of nixpkgs' fetchPnpmDeps, replayed by fetch-pnpm-deps.sh
# (which sets up the builder's environment and runs this file in it with bash; a Nix build
# runs its phases in one shell, so `storePath` set in installPhase is seen by fixupPhase).
# Source: pkgs/build-support/node/fetch-pnpm-deps/default.nix, NixOS/nixpkgs 00d3e949.
# Inputs: $out, $fetcherVersion, $PNPM_MAJOR, $NIX_BUILD_TOP (source in ./source), optional
# $NIX_NPM_REGISTRY, and the arrays FILTER_FLAGS and INSTALL_FLAGS.
# shellcheck shell=bash disable=SC2154
set -euo pipefail
cd "$NIX_BUILD_TOP/source"

versionAtLeast() {
    local cur_version=$1 min_version=$2
    printf "%s\0%s" "$min_version" "$cur_version" | sort -zVC
}

now() { date +%s.%N; }
t_install=$(now)
echo "== installPhase" >&2
# The lockfileVersion guard (nixpkgs reads it with yq; a refusal only, never output).
# nixpkgs interpolates pnpm's major at evaluation (`lib.versions.major pnpm.version`):
# pnpm is not run here, in the project, where pnpm 11 would act on its packageManager
# field before pm_on_fail=ignore is exported (Ghost's pnpm 12 pin makes 11.22.0 fail).
lockfileVersion=$(sed -n "s/^lockfileVersion: *['\"]\{0,1\}\([^'\"]*\)['\"]\{0,1\} *$/\1/p" pnpm-lock.yaml | head -n1)
pnpmMajor=$PNPM_MAJOR
if [[ ${lockfileVersion:0:1} -gt $pnpmMajor ]]; then
    echo "ERROR: lockfileVersion $lockfileVersion in pnpm-lock.yaml is too new for the provided pnpm version $pnpmMajor!" >&2
    exit 1
fi

if [[ $fetcherVersion -ge 3 ]]; then
    mkdir "$out"
    storePath=$(mktemp -d)
else
    storePath=$out
fi

pushd "$HOME" >/dev/null
pnpmVersion=$(pnpm --version)
if versionAtLeast "$pnpmVersion" "11"; then
    export npm_config_pm_on_fail=ignore
    export pnpm_config_pm_on_fail=ignore
    # nixpkgs writes these without `=`: bash exports nothing for them. Replayed as written.
    export npm_config_side_effects_cache false
    export pnpm_config_side_effects_cache false
    export npm_config_update_notifier false
    export pnpm_config_update_notifier false
else
    pnpm config set manage-package-manager-versions false
    pnpm config set side-effects-cache false
    pnpm config set update-notifier false
fi
popd >/dev/null

pnpm config set store-dir "$storePath"

pnpm install \
    --force \
    --ignore-scripts \
    "${FILTER_FLAGS[@]}" \
    "${INSTALL_FLAGS[@]}" \
    --registry="${NIX_NPM_REGISTRY-}" \
    --frozen-lockfile

if [[ $fetcherVersion -gt 1 ]]; then
    echo "$fetcherVersion" >"$out/.fetcher-version"
fi

t_fixup=$(now)
echo "== fixupPhase" >&2
rm -rf "$storePath"/{v3,v10,v11}/tmp
# Word splitting of find's output, as nixpkgs writes it (paths have no spaces here: store
# paths are hex digests and pkgIds).
# shellcheck disable=SC2044 # word splitting of find, as nixpkgs writes it
for f in $(find "$storePath" -name "*.json"); do
    jq --sort-keys "del(.. | .checkedAt?)" "$f" | sponge "$f"
done

if [ -f "$storePath/v11/index.db" ]; then
    pnpm-fixup-state-db "$storePath/v11"
fi

rm -rf "$storePath"/{v3,v10,v11}/projects

# fetcherVersion 4: the binary index.db differs between machines and sqlite versions
# (nixpkgs#522703), so $out holds its text dump instead, rewritten to the dump text of
# sqlite < 3.50 (nixpkgs#538919; see normalize-dump.sh).
if [[ $fetcherVersion -ge 4 && -f "$storePath/v11/index.db" ]]; then
    sqlite3 "$storePath/v11/index.db" .dump | normalize-dump >"$storePath/v11/index.db.sql"
    rm "$storePath/v11/index.db"
fi

if [[ $fetcherVersion -ge 2 ]]; then
    find "$storePath" -type f -name "*-exec" -print0 | xargs --no-run-if-empty -0 chmod 555
    find "$storePath" -type f -not -name "*-exec" -print0 | xargs --no-run-if-empty -0 chmod 444
    find "$storePath" -type d -print0 | xargs --no-run-if-empty -0 chmod 555
fi

t_tar=$(now)
if [[ $fetcherVersion -ge 3 ]]; then
    (
        cd "$storePath"
        tar --sort=name \
            --mtime="@$SOURCE_DATE_EPOCH" \
            --owner=0 --group=0 --numeric-owner \
            --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
            --zstd -cf "$out/pnpm-store.tar.zst" .
    )
fi
t_end=$(now)
awk -v a="$t_install" -v f="$t_fixup" -v t="$t_tar" -v e="$t_end" 'BEGIN {
    printf "timing: install %.1f s, fixup %.1f s (of which tar+zstd %.1f s)\n", f - a, e - f, e - t
}' >&2
echo "$storePath" >"$NIX_BUILD_TOP/.store-path"
