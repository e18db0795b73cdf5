#!/usr/bin/env python3
"""Small base images for the base-image tests, made without any engine.

  mkbase.py layer KIND OUT.tar     a layer tar: busybox ROOTFS | dotdot | absolute |
                                   symlink-escape | hardlink-escape | device | fine
  mkbase.py layout DIR LAYER...    an OCI image layout (index.json names "base:1")
      [--media-type MT] [--env K=V] [--user U] [--gzip] [--bad-diff-id]
      [--index]  index.json names an image index: linux/arm64 (Env ARCH=arm64), then linux/amd64
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add(t, name, data=b"", kind=tarfile.REGTYPE, link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = kind, link, mode, 0
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer(kind, out, rootfs=None):
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        if kind == "busybox":
            for name in sorted(os.listdir(rootfs)):
                t.add(os.path.join(rootfs, name), arcname=name)
            return
        add(t, "etc", kind=tarfile.DIRTYPE, mode=0o755)
        add(t, "etc/hello", b"hello\n")
        if kind == "dotdot":
            add(t, "etc/../../evil", b"x")
        elif kind == "absolute":
            add(t, "/etc/evil", b"x")
        elif kind == "symlink-escape":
            add(t, "etc/up", kind=tarfile.SYMTYPE, link="../../../etc/passwd")
        elif kind == "hardlink-escape":
            add(t, "etc/hard", kind=tarfile.LNKTYPE, link="../outside")
        elif kind == "device":
            add(t, "etc/null", kind=tarfile.CHRTYPE)
        elif kind == "fine":
            add(t, "etc/abs", kind=tarfile.SYMTYPE, link="/etc/hello")


def blob(d, data):
    digest = sha(data)
    with open(os.path.join(d, "blobs", "sha256", digest[7:]), "wb") as f:
        f.write(data)
    return digest


def layout(d, layers, media_type=None, env=(), user="", gz=False, bad_diff_id=False, index=False):
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    descs, diff_ids = [], []
    for path in layers:
        raw = open(path, "rb").read()
        data = gzip.compress(raw, mtime=0) if gz else raw
        mt = media_type or ("application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else ""))
        descs.append({"mediaType": mt, "digest": blob(d, data), "size": len(data)})
        diff_ids.append(sha(raw + (b"x" if bad_diff_id else b"")))
    def image(arch, extra_env):
        cfg = {"architecture": arch, "os": "linux",
               "config": {"Env": list(env) + extra_env, "User": user},
               "rootfs": {"type": "layers", "diff_ids": diff_ids},
               "history": [{"created_by": "mkbase.py"}]}
        cb = json.dumps(cfg).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(d, cb),
                               "size": len(cb)}, "layers": descs}
        mb = json.dumps(manifest).encode()
        return {"mediaType": manifest["mediaType"], "digest": blob(d, mb), "size": len(mb),
                "platform": {"os": "linux", "architecture": arch}}
    top = image("amd64", [])
    del top["platform"]
    if index:
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [image("arm64", ["ARCH=arm64"]), image("amd64", ["ARCH=amd64"])]}
        ib = json.dumps(idx).encode()
        top = {"mediaType": idx["mediaType"], "digest": blob(d, ib), "size": len(ib)}
    top["annotations"] = {"org.opencontainers.image.ref.name": "base:1"}
    json.dump({"schemaVersion": 2, "manifests": [top]}, open(os.path.join(d, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(d, "oci-layout"), "w"))


def main(argv):
    if argv[0] == "layer":
        layer(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
        return
    d, rest = argv[1], argv[2:]
    layers, opts = [], {"env": []}
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--media-type":
            opts["media_type"] = rest[i + 1]; i += 1
        elif a == "--env":
            opts["env"].append(rest[i + 1]); i += 1
        elif a == "--user":
            opts["user"] = rest[i + 1]; i += 1
        elif a == "--gzip":
            opts["gz"] = True
        elif a == "--bad-diff-id":
            opts["bad_diff_id"] = True
        elif a == "--index":
            opts["index"] = True
        else:
            layers.append(a)
        i += 1
    layout(d, layers, **opts)


main(sys.argv[1:])
