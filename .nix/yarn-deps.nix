# Reads the hash record update-yarn-hash writes (.nix/yarn-deps.toml) and gives the
# fetchYarnDeps hash for a lockfile, refusing a record that is malformed or stale.
#
# The staleness check matters: with a stale hash, fetchYarnDeps either fails after a full
# download or, worse, reuses the old offline cache already in the store and the build
# breaks later with a missing tarball. Builtins only, so .nix/tests/ can evaluate it.
{ recordFile, root }:
let
  fix = "run `nix run .#update-yarn-hash` (it writes .nix/yarn-deps.toml; never edit it by hand)";
  record =
    if builtins.pathExists recordFile
    then builtins.fromTOML (builtins.readFile recordFile)
    else throw "${toString recordFile} is missing: ${fix}";
  # 32 bytes are 43 base64 digits and one `=`; the last digit carries 2 zero padding bits,
  # so only 16 digits can end a canonical encoding.
  isSriSha256 = h: builtins.isString h && builtins.match "sha256-[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=" h != null;
  isHexSha256 = h: builtins.isString h && builtins.match "[0-9a-f]{64}" h != null;
  entryFor = lockfile:
    let
      at = "${toString recordFile}: [\"${lockfile}\"]";
      entry = record.${lockfile} or (throw "${at} has no entry: ${fix} -- --lockfile ${lockfile}");
      lockPath = root + "/${lockfile}";
    in
    if builtins.attrNames entry != [ "hash" "lock-sha256" ]
    then throw "${at} must have exactly `lock-sha256` and `hash`: ${fix}"
    else if !(isSriSha256 entry.hash)
    then throw "${at} hash = \"${toString entry.hash}\" is not an SRI sha256 hash (sha256-<44 base64 chars>): ${fix}"
    else if !(isHexSha256 entry.lock-sha256)
    then throw "${at} lock-sha256 is not 64 lowercase hex digits: ${fix}"
    else if !(builtins.pathExists lockPath)
    then throw "${at} names a lockfile that does not exist: ${fix}"
    else if entry.lock-sha256 != builtins.hashFile "sha256" lockPath
    then throw "${at} is stale: ${lockfile} changed since its hash was recorded; ${fix}"
    else entry.hash;
in
{
  # The fetchYarnDeps hash for one lockfile (path relative to root).
  hashFor = entryFor;
  # Every entry, checked: { "<lockfile>" = "<hash>"; }.
  all = builtins.mapAttrs (lockfile: _: entryFor lockfile) record;
}
