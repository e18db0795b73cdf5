#!/usr/bin/python3
"""mk_oci_base.py ROOT_TAR OUT_ARCHIVE NAME:TAG [ENV=VALUE...]: wraps a root
file system tarball (one uncompressed layer) into an oci-archive with a
minimal config, so tests get a real Debian base image without an engine."""
import hashlib
import io
import json
import os
import sys
import tarfile

root_tar, out, ref, envs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


layer_hex = sha256_file(root_tar)
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": envs or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_hex]},
    "history": [{"created_by": "mmdebstrap (tests/integration/mk_oci_base.py)"}],
}, sort_keys=True).encode()
config_hex = hashlib.sha256(config).hexdigest()
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + config_hex,
               "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + layer_hex,
                "size": os.path.getsize(root_tar)}],
}, sort_keys=True).encode()
manifest_hex = hashlib.sha256(manifest).hexdigest()
index = json.dumps({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + manifest_hex,
    "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref}}]}).encode()

tmp = out + ".tmp"
with tarfile.open(tmp, "w") as t:
    def add_bytes(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add_bytes("index.json", index)
    add_bytes("blobs/sha256/" + config_hex, config)
    add_bytes("blobs/sha256/" + manifest_hex, manifest)
    t.add(root_tar, arcname="blobs/sha256/" + layer_hex)
os.replace(tmp, out)
