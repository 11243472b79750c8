# Reads the hash record update-yarn-hash and update-pnpm-hash write (.nix/yarn-deps.toml)
# and gives the fetchYarnDeps or fetchPnpmDeps hash for a lockfile, refusing a record that
# is malformed or stale.
#
# The staleness check matters: with a stale hash, the fetcher either fails after a full
# download or, worse, reuses the old output already in the store and the build breaks
# later with a missing tarball. Builtins only, so .nix/tests/ can evaluate it.
{ recordFile, root }:
let
  yarnFix = "run `nix run .#update-yarn-hash` (it writes .nix/yarn-deps.toml; never edit it by hand)";
  shellWord = w: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] w + "'";
  # `--no-workspace` clears a recorded selection (the tool keeps it otherwise).
  pnpmFix = lockfile: { fetcherVersion, pnpm, node ? null, pnpmWorkspaces ? [ ], clear ? false }:
    let
      nodeFlag = if node == null then "" else " --node ${node}";
      workspaceFlags =
        if pnpmWorkspaces == [ ] && clear then " --no-workspace"
        else builtins.concatStringsSep "" (map (w: " --workspace ${shellWord w}") pnpmWorkspaces);
    in
    "run `nix run .#update-pnpm-hash -- --lockfile ${lockfile} --fetcher-version ${toString fetcherVersion} --pnpm ${pnpm}${nodeFlag}${workspaceFlags}` (it writes .nix/yarn-deps.toml; never edit it by hand)";
  showList = l: if l == [ ] then "[ ]" else "[ ${builtins.concatStringsSep " " (map (w: "\"${w}\"") l)} ]";
  record =
    if builtins.pathExists recordFile
    then builtins.fromTOML (builtins.readFile recordFile)
    else throw "${toString recordFile} is missing: ${yarnFix}";
  # 32 bytes are 43 base64 digits and one `=`; the last digit carries 2 zero padding bits,
  # so only 16 digits can end a canonical encoding.
  isSriSha256 = h: builtins.isString h && builtins.match "sha256-[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=" h != null;
  isHexSha256 = h: builtins.isString h && builtins.match "[0-9a-f]{64}" h != null;
  # The keys each writer puts in an entry (common/src/record/hash_record.rs); attrNames sorts.
  yarnKeys = [ "hash" "lock-sha256" ];
  pnpmKeys = [ "fetcher" "fetcher-version" "hash" "lock-sha256" "pnpm" ];
  # `node` (the Node major pnpm runs under) only when update-pnpm-hash was given --node;
  # `workspaces` (the pnpmWorkspaces selectors) only when given --workspace.
  pnpmNodeKeys = [ "fetcher" "fetcher-version" "hash" "lock-sha256" "node" "pnpm" ];
  keysOf = entry: builtins.attrNames (if entry ? fetcher then builtins.removeAttrs entry [ "workspaces" ] else entry);
  isStringList = l: builtins.isList l && builtins.all builtins.isString l && l != [ ];
  at = lockfile: "${toString recordFile}: [\"${lockfile}\"]";
  # The entry's hash once its form and freshness are checked; `fix` says how to rewrite it.
  checked = lockfile: fix:
    let
      entry = record.${lockfile} or (throw "${at lockfile} has no entry: ${fix}");
      lockPath = root + "/${lockfile}";
    in
    if !(builtins.elem (keysOf entry) [ yarnKeys pnpmKeys pnpmNodeKeys ])
    then throw "${at lockfile} must have exactly `lock-sha256` and `hash` (Yarn) or also `fetcher`, `fetcher-version` and `pnpm`, and maybe `node` and `workspaces` (pnpm): ${fix}"
    else if entry ? workspaces && !(isStringList entry.workspaces)
    then throw "${at lockfile} workspaces is not a non-empty list of strings: ${fix}"
    else if !(isSriSha256 entry.hash)
    then throw "${at lockfile} hash = \"${toString entry.hash}\" is not an SRI sha256 hash (sha256-<44 base64 chars>): ${fix}"
    else if !(isHexSha256 entry.lock-sha256)
    then throw "${at lockfile} lock-sha256 is not 64 lowercase hex digits: ${fix}"
    else if !(builtins.pathExists lockPath)
    then throw "${at lockfile} names a lockfile that does not exist: ${fix}"
    else if entry.lock-sha256 != builtins.hashFile "sha256" lockPath
    then throw "${at lockfile} is stale: ${lockfile} changed since its hash was recorded; ${fix}"
    else entry;
  isPnpm = entry: entry ? fetcher;
  yarnHashFor = lockfile:
    let entry = checked lockfile "${yarnFix} -- --lockfile ${lockfile}"; in
    if isPnpm entry
    then throw "${at lockfile} is a ${entry.fetcher} entry, not a fetchYarnDeps one: ${yarnFix} -- --lockfile ${lockfile}"
    else entry.hash;
  # The hash for fetchPnpmDeps { fetcherVersion; pnpm; }: the record names the target its
  # hash was computed for, and a hash for another target is another hash. `node` (e.g.
  # pnpm_11.nodejs.version), when given, is checked against the recorded Node major: a
  # patched lockfile's fetcherVersion 4 hash depends on it.
  # `pnpmWorkspaces` is the call's argument of that name: its hash is that of an install
  # filtered to those workspace projects (`--filter`), recorded with `--workspace`.
  pnpmHashFor = lockfile: { fetcherVersion, pnpm, node ? null, pnpmWorkspaces ? [ ] }:
    let
      nodeMajor = if node == null then null else builtins.head (builtins.splitVersion node);
      target = { inherit fetcherVersion pnpmWorkspaces; pnpm = builtins.head (builtins.splitVersion pnpm); node = nodeMajor; };
      fix = pnpmFix lockfile target;
      entry = checked lockfile fix;
    in
    if !(isPnpm entry) || entry.fetcher != "fetchPnpmDeps"
    then throw "${at lockfile} is not a fetchPnpmDeps entry: ${fix}"
    else if entry.fetcher-version != fetcherVersion
    then throw "${at lockfile} was recorded for fetcherVersion = ${toString entry.fetcher-version}, the flake asks for ${toString fetcherVersion}: ${fix}"
    # The record holds the major ("10") or an exact version ("10.34.5").
    else if entry.pnpm != target.pnpm && entry.pnpm != pnpm
    then throw "${at lockfile} was recorded for pnpm ${entry.pnpm}, the flake uses pnpm ${pnpm}: ${fix}"
    else if entry ? node && nodeMajor != null && toString entry.node != nodeMajor
    then throw "${at lockfile} was recorded for Node ${toString entry.node}, the flake's pnpm runs under Node ${node}: ${fix}"
    else if (entry.workspaces or [ ]) != pnpmWorkspaces
    then throw "${at lockfile} was recorded for pnpmWorkspaces = ${showList (entry.workspaces or [ ])}, the flake's fetchPnpmDeps call passes ${showList pnpmWorkspaces}: ${pnpmFix lockfile (target // { clear = true; })}"
    else entry.hash;
in
{
  # The fetchYarnDeps hash for one lockfile (path relative to root).
  hashFor = yarnHashFor;
  # The fetchPnpmDeps hash for one lockfile and the fetcher arguments the flake passes
  # (pnpm is the package's version, e.g. pnpm_10.version).
  inherit pnpmHashFor;
  # Every entry, checked: { "<lockfile>" = "<hash>"; }.
  all = builtins.mapAttrs
    (lockfile: entry:
      if isPnpm entry
      then
        pnpmHashFor lockfile
          ({ fetcherVersion = entry.fetcher-version; inherit (entry) pnpm; pnpmWorkspaces = entry.workspaces or [ ]; }
            // (if entry ? node then { node = toString entry.node; } else { }))
      else yarnHashFor lockfile)
    record;
}
