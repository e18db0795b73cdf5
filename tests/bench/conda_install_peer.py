#!/usr/bin/python3
"""conda_install_peer.py PKGS_DIR PREFIX: the executor route's work for the conda benchmark, run by the base's
own python3 in a podman RUN step: every .tar.bz2 package in PKGS_DIR unpacked into PREFIX (info/ left out)
and its conda-meta record written — what `conda create --file LOCK` does for packages without prefix
placeholders or noarch: python, with no solving and no downloading."""
import json
import os
import sys
import tarfile

pkgs, prefix = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(prefix, "conda-meta"), exist_ok=True)
for fn in sorted(os.listdir(pkgs)):
    with tarfile.open(os.path.join(pkgs, fn), "r:bz2") as t:
        members = [m for m in t.getmembers() if not m.name.startswith("info/")]
        index = json.load(t.extractfile("info/index.json"))
        t.extractall(prefix, members=members)
    index.update(fn=fn, files=[m.name for m in members if not m.isdir()])
    with open(os.path.join(prefix, "conda-meta", fn[: -len(".tar.bz2")] + ".json"), "w") as f:
        json.dump(index, f)
