# shellcheck shell=bash
# Runs a derivation's phases the way nixpkgs' stdenv does for the attributes
# .nix/pnpm-example.nix uses (pkgs/stdenv/generic/setup.sh): unpack copies $src, configure
# runs postConfigureHooks unless dontConfigure, build runs buildPhase unless dontBuild,
# install runs installPhase; setup hooks of nativeBuildInputs are sourced and their bin/ put
# on PATH. makeWrapper writes a plain script (makeBinaryWrapper writes a binary).
set -eu
export HOME
HOME=$(mktemp -d)
TMPDIR=${TMPDIR:-/tmp}
declare -a postConfigureHooks=()
runHook() {
  local hook
  if [ "$1" = postConfigure ]; then
    for hook in "${postConfigureHooks[@]}"; do "$hook"; done
  fi
}
makeWrapper() {
  local exe=$1 out=$2 flags=""
  shift 2
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --add-flags) flags="$flags $2"; shift 2 ;;
      --set-default) shift 3 ;;
      *) echo "makeWrapper stand-in: unknown $1" >&2; return 1 ;;
    esac
  done
  printf '#!/bin/sh\nexec %s%s "$@"\n' "$exe" "$flags" > "$out"
  chmod +x "$out"
}
for input in ${nativeBuildInputs:-}; do
  if [ -d "$input/bin" ]; then PATH=$input/bin:$PATH; fi
  if [ -f "$input/nix-support/setup-hook" ]; then
    # shellcheck source=/dev/null
    source "$input/nix-support/setup-hook"
  fi
done
: "${src:?}" "${installPhase:?}"
mkdir source && cp -r "$src"/. source/ && chmod -R u+w source && cd source
if [ -z "${dontConfigure:-}" ]; then runHook postConfigure; fi
if [ -z "${dontBuild:-}" ]; then eval "${buildPhase:?}"; fi
eval "$installPhase"
