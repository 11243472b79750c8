# An example app's image (example/ or example-pnpm/: the image is named after the app).
#
# streamLayeredImage rather than buildLayeredImage: the result is a small script that
# streams the image tarball into `docker load` or a registry push, so the store (and the
# binary cache CI pushes to) never holds a second, multi-hundred-MB copy of every layer.
# Layers are still content-addressed store paths, so an app-only change re-pushes one layer.
{ lib
, dockerTools
, writeTextDir
, app
, nodejs
}:
let
  uid = "1000";
  gid = "1000";
  # Explicit user database: Node's os.userInfo() and many libraries fail without one.
  etc = [
    (writeTextDir "etc/passwd" ''
      root:x:0:0:root:/root:/sbin/nologin
      app:x:${uid}:${gid}:example app:/home/app:/sbin/nologin
      nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
    '')
    (writeTextDir "etc/group" ''
      root:x:0:
      app:x:${gid}:
      nogroup:x:65534:
    '')
    # Without it glibc tries DNS before /etc/hosts (localhost, `--add-host` entries).
    (writeTextDir "etc/nsswitch.conf" ''
      hosts: files dns
    '')
  ];
in
dockerTools.streamLayeredImage {
  name = app.pname;
  tag = app.version;
  # Runtime closure only: the app (which references nodejs and its node_modules path,
  # so node_modules gets a layer of its own while the closure has fewer than maxLayers =
  # 100 paths: nixpkgs pkgs/build-support/docker/popularity-contest-layering-pipeline.nix
  # at 145604cf1bfb75b4b98f30ae0528f30dd8733e8e), CA certificates, /etc.
  # dockerTools.caCertificates links the bundle at the paths OpenSSL and Node look in
  # (/etc/ssl/certs/ca-bundle.crt, ca-certificates.crt; nixpkgs
  # pkgs/build-support/docker/default.nix), which a bare `cacert` in contents does not.
  contents = etc ++ [ dockerTools.caCertificates ];
  fakeRootCommands = ''
    mkdir -p tmp home/app
    chmod 1777 tmp
    chown ${uid}:${gid} home/app
  '';
  config = {
    User = "${uid}:${gid}";
    WorkingDir = "/home/app";
    Entrypoint = [ (lib.getExe app) ];
    ExposedPorts."2368/tcp" = { };
    Env = [
      "NODE_ENV=production"
      "HOST=0.0.0.0"
      "PORT=2368"
      "HOME=/home/app"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
      "PATH=${lib.makeBinPath [ nodejs ]}"
    ];
    Labels."org.opencontainers.image.title" = app.pname;
  };
}
