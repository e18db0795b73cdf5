#!/usr/bin/env python3
"""Hostile base images for tests/cli/30-hostile-base.sh, each small on disk but
holding an entry that expands to 1 GiB of zeros:

  hostile_base.py OUTDIR

writes, for each form (oci-archive, docker-archive, oci: layout):
  *-unref    a valid base plus an unreferenced 1 GiB entry (builds)
  *-ref      the 1 GiB entry as the layer, its descriptor saying 1000 bytes
             (docker-archive: no descriptors; the layer entry itself is 1 GiB)
  *-zip      a correctly digested and sized gzip layer that expands to 1 GiB
and big.tar, a valid oci-archive whose layer holds 3 MiB of random bytes (for
a cache on a full file system).

The gzip of 1 GiB of zeros is made once; a gzip file may hold several members,
so a compressed archive is gzip(what comes before the zeros) + that member +
gzip(what comes after). A layout's 1 GiB blob is a sparse file.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zlib

GIB = 1 << 30


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def header(name, size):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = size, 0o644, 0
    return ti.tobuf(format=tarfile.GNU_FORMAT)


def entry(name, data):
    return header(name, len(data)) + data + bytes(-len(data) % 512)


END = bytes(1024)


def zeros_member():
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = bytes(16 << 20)
    out = [c.compress(chunk) for _ in range(GIB // len(chunk))]
    return b"".join(out) + c.flush()


def gz(data):
    return gzip.compress(data, 1, mtime=0)


def small_layer():
    return entry("etc/hello", b"hello\n") + END


def config(diff_id):
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()


def manifest(cfg, layer_digest, layer_size, media_type):
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": sha(cfg), "size": len(cfg)},
                       "layers": [{"mediaType": media_type, "digest": layer_digest, "size": layer_size}]}).encode()


def index(m):
    return json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(m), "size": len(m)}]}).encode()


TAR = "application/vnd.oci.image.layer.v1.tar"
TGZ = "application/vnd.oci.image.layer.v1.tar+gzip"
BOMB_HEX = hashlib.sha256(b"bomb").hexdigest()


def oci_files(layer_digest, layer_size, media_type, layer_bytes=None, diff_id=None):
    """The small files of an OCI layout: (name, bytes), blobs first."""
    cfg = config(diff_id or (sha(layer_bytes) if layer_bytes is not None else "sha256:" + "0" * 64))
    m = manifest(cfg, layer_digest, layer_size, media_type)
    files = [("blobs/sha256/" + sha(cfg)[7:], cfg), ("blobs/sha256/" + sha(m)[7:], m)]
    if layer_bytes is not None:
        files.append(("blobs/sha256/" + layer_digest[7:], layer_bytes))
    return files + [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index(m))]


def write_archive(path, before, bomb_name, after, z):
    """gzip(tar of before + the bomb's header) + the zeros + gzip(the rest of the tar)."""
    head = b"".join(entry(n, d) for n, d in before) + header(bomb_name, GIB)
    tail = b"".join(entry(n, d) for n, d in after) + END
    with open(path, "wb") as f:
        f.write(gz(head) + z + gz(tail))


def zip_layer(z):
    """A gzip tar layer of one 1 GiB file of zeros (its size and digest are what they are)."""
    return gz(header("zeros", GIB)) + z + gz(END)


def write_layout(dir, files, sparse=None):
    os.makedirs(os.path.join(dir, "blobs/sha256"), exist_ok=True)
    for n, d in files:
        with open(os.path.join(dir, n), "wb") as f:
            f.write(d)
    if sparse:
        with open(os.path.join(dir, "blobs/sha256", sparse), "wb") as f:
            f.truncate(GIB)


def main(out):
    z = zeros_member()
    layer = small_layer()
    zl = zip_layer(z)
    fine = oci_files(sha(layer), len(layer), TAR, layer)
    # oci-archive
    write_archive(f"{out}/oci-unref.tar.gz", fine[:2], "blobs/sha256/" + BOMB_HEX, fine[2:], z)
    ref = oci_files("sha256:" + BOMB_HEX, 1000, TAR)
    write_archive(f"{out}/oci-ref.tar.gz", ref[:2], "blobs/sha256/" + BOMB_HEX, ref[2:], z)
    with open(f"{out}/oci-zip.tar", "wb") as f:
        f.write(b"".join(entry(n, d) for n, d in oci_files(sha(zl), len(zl), TGZ, zl)) + END)
    # docker-archive
    cfg = config(sha(layer))
    dm = lambda layer_name: json.dumps([{"Config": "config.json", "Layers": [layer_name],
                                         "RepoTags": ["base:1"]}]).encode()
    write_archive(f"{out}/docker-unref.tar.gz", [("config.json", cfg), ("layer.tar", layer)], "junk/layer.tar",
                  [("manifest.json", dm("layer.tar"))], z)
    write_archive(f"{out}/docker-ref.tar.gz", [("config.json", cfg)], "bomb/layer.tar",
                  [("manifest.json", dm("bomb/layer.tar"))], z)
    with open(f"{out}/docker-zip.tar", "wb") as f:
        f.write(entry("config.json", config("sha256:" + "0" * 64)) + entry("layer.tar", zl) +
                entry("manifest.json", dm("layer.tar")) + END)
    # oci: layouts
    write_layout(f"{out}/layout-unref", fine, sparse=BOMB_HEX)
    write_layout(f"{out}/layout-ref", oci_files("sha256:" + BOMB_HEX, 1000, TAR), sparse=BOMB_HEX)
    write_layout(f"{out}/layout-zip", oci_files(sha(zl), len(zl), TGZ, zl))
    big = entry("etc/random", os.urandom(3 << 20)) + END
    with open(f"{out}/big.tar", "wb") as f:
        f.write(b"".join(entry(n, d) for n, d in oci_files(sha(big), len(big), TAR, big)) + END)


if __name__ == "__main__":
    main(sys.argv[1])
