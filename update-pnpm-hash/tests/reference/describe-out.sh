#!/usr/bin/env bash
# Describes a fetchPnpmDeps (fetcherVersion >= 3) $out in layers, so two outputs can be
# compared where they first differ: the store tree, then the tar bytes, then the
# compressed bytes, then the NAR hash.
#
# usage: describe-out.sh OUT_DIR DEST_DIR
# writes into DEST_DIR:
#   store-manifest.txt  one line per entry of pnpm-store.tar.zst, in archive order:
#                       `<type> <octal mode> <size> <sha256 or -> <path>` (GNU tar lists the
#                       names and modes, the contents are hashed after extraction)
#   store-summary.txt   store-manifest.txt in groups (each `files/XX/` directory, every other
#                       entry on its own): `<entries> <sha256 of their manifest lines> <group>`,
#                       small enough to record for a large store (Ghost: 49,775 files)
#   index-dump.txt      fetcherVersion 4 only: v11/index.db.sql line by line, `<line number>
#                       <sha256 of the line> <the line>` with each blob's hex shown as its
#                       length and TABs as \t: a difference names the statement and row
#                       (its key) and shows the literal forms (X'' or x'', unistr())
#   layers.txt          sha256 of .fetcher-version, of the tar, of the .tar.zst
#   hash                `nix hash path OUT_DIR` (SRI)
# Tools: $NIXCI_GNUTAR and $NIXCI_ZSTD (default ~/.cache/nixci-tools/{gnutar-1.35,zstd-1.5.7}),
# sha256sum, nix.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: describe-out.sh OUT_DIR DEST_DIR" >&2; exit 2; }
out=$1 dest=$2
tools_dir=${NIXCI_TOOLS_DIR:-$HOME/.cache/nixci-tools}
tar_bin=${NIXCI_GNUTAR:-$tools_dir/gnutar-1.35/bin/tar}
zstd_bin=${NIXCI_ZSTD:-$tools_dir/zstd-1.5.7/bin/zstd}
[[ -f $out/pnpm-store.tar.zst ]] || { echo "describe-out.sh: $out/pnpm-store.tar.zst: no such file" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/describe-out.XXXXXX")
cleanup() {
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$dest" "$work/tree"

"$zstd_bin" -q -d -c "$out/pnpm-store.tar.zst" >"$work/store.tar"
"$tar_bin" -xf "$work/store.tar" -C "$work/tree"

# Archive order from the listing; type, octal mode and size from the extracted entries
# (extraction as root keeps modes), contents hashed in one sha256sum run. Store paths are
# hex digests and pkgIds: no tabs or newlines.
(cd "$work/tree" && find . -printf '%p\t%y %m %s\n') >"$work/stat"
(cd "$work/tree" && find . -type f -print0 | xargs -0 --no-run-if-empty sha256sum) >"$work/sha"
"$tar_bin" -tf "$work/store.tar" >"$work/order"
awk -F'\t' '
    FILENAME == ARGV[1] { stat[$1] = $2; next }
    FILENAME == ARGV[2] { sha[substr($0, 67)] = substr($0, 1, 64); next }
    {
        key = $0; sub(/\/$/, "", key); if (key == ".") key = "."
        if (!(key in stat)) { print "describe-out.sh: " $0 " listed but not extracted" > "/dev/stderr"; exit 1 }
        split(stat[key], f, " ")
        if (f[1] == "d") printf "d %s - - %s\n", f[2], $0
        else printf "%s %s %s %s %s\n", f[1], f[2], f[3], (key in sha ? sha[key] : "-"), $0
    }
' "$work/stat" "$work/sha" "$work/order" >"$dest/store-manifest.txt"

# Groups keep archive order (files/XX/ entries are contiguous under --sort=name).
perl -MDigest::SHA -ne '
    my ($path) = /\A\S+ \S+ \S+ \S+ (.*)\n\z/s or die "describe-out.sh: bad manifest line $.\n";
    my $group = $path =~ m{\A(\./v[0-9]+/files/[0-9a-f]{2}/)} ? $1 : $path;
    if (!defined $cur || $group ne $cur) {
        printf "%d %s %s\n", $n, $sha->hexdigest, $cur if defined $cur;
        ($cur, $n, $sha) = ($group, 0, Digest::SHA->new(256));
    }
    $n++; $sha->add($_);
    END { printf "%d %s %s\n", $n, $sha->hexdigest, $cur if defined $cur }
' "$dest/store-manifest.txt" >"$dest/store-summary.txt"

{
    printf '.fetcher-version %s\n' "$(sha256sum <"$out/.fetcher-version" | cut -d' ' -f1)"
    printf 'pnpm-store.tar %s\n' "$(sha256sum <"$work/store.tar" | cut -d' ' -f1)"
    printf 'pnpm-store.tar.zst %s\n' "$(sha256sum <"$out/pnpm-store.tar.zst" | cut -d' ' -f1)"
} >"$dest/layers.txt"

rm -f "$dest/index-dump.txt"
dump=$work/tree/v11/index.db.sql
if [[ -f $dump ]]; then
    # One perl pass (Digest::SHA is in perl's core): awk cannot hash a line.
    perl -MDigest::SHA=sha256_hex -ne '
        chomp(my $l = $_);
        $l =~ s/([xX]\x27)([0-9a-fA-F]*)\x27/$1 . "<" . length($2) . " hex>\x27"/ge;
        $l =~ s/\t/\\t/g;
        printf "%d %s %s\n", $., sha256_hex($_), $l;
    ' "$dump" >"$dest/index-dump.txt"
fi

NIX_CONFIG=$'experimental-features = nix-command\nsubstituters =' nix hash path "$out" >"$dest/hash"
