# Checks flake.nix's nixConfig and that flake.lock pins the nixpkgs input flake.nix names
# to a full revision and content hash. Evaluates to true or throws naming the problem.
{ root }:
let
  dir = /. + root;
  flake = import (dir + "/flake.nix");
  lock = builtins.fromJSON (builtins.readFile (dir + "/flake.lock"));
  node = lock.nodes.${lock.nodes.${lock.root}.inputs.nixpkgs};
  inherit (flake) nixConfig;
  expect = ok: message: if ok then true else throw "flake: ${message}";
  matches = re: s: builtins.isString s && builtins.match re s != null;
  sri = "sha256-[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=";
  # An ed25519 public key: 32 bytes of base64 after the key's name.
  publicKey = "[A-Za-z0-9._-]+:[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=";
  hostOf = url: builtins.head (builtins.match "https://([^/]+)/?" url);
  keyNames = map (k: builtins.head (builtins.match "([^:]+):.*" k)) nixConfig.extra-trusted-public-keys;
in
builtins.all (x: x) ([
  (expect (builtins.attrNames nixConfig == [ "extra-substituters" "extra-trusted-public-keys" ])
    "nixConfig must set exactly extra-substituters and extra-trusted-public-keys (the project cache)")
  (expect (builtins.all (matches "https://[^/]+/?") nixConfig.extra-substituters)
    "every substituter must be an https:// URL")
  (expect (builtins.all (matches publicKey) nixConfig.extra-trusted-public-keys)
    "every trusted public key must be NAME:<base64 of 32 bytes>")
  (expect (node.locked.type == "github" && matches "[0-9a-f]{40}" node.locked.rev)
    "flake.lock must pin nixpkgs to a full 40-hex GitHub revision")
  (expect (matches sri node.locked.narHash) "flake.lock's nixpkgs narHash is not an SRI sha256 hash")
  (expect (builtins.isInt node.locked.lastModified) "flake.lock's nixpkgs has no lastModified")
  (expect (flake.inputs.nixpkgs.url == "github:${node.original.owner}/${node.original.repo}/${node.original.ref}")
    "flake.lock's nixpkgs node does not match inputs.nixpkgs.url in flake.nix: re-lock")
  (expect (matches "nixos-[0-9]{2}\\.[0-9]{2}" node.original.ref) "nixpkgs must follow a release branch (nixos-YY.MM)")
] ++ map
  (s: expect (builtins.any (n: builtins.match "${builtins.replaceStrings ["."] ["\\."] (hostOf s)}-[0-9]+" n != null) keyNames)
    "substituter ${s} has no trusted public key named after it")
  nixConfig.extra-substituters)
