#!/usr/bin/python3
"""conda_channel.py DIR NAME SUBDIR:PKG... : makes a conda channel at DIR/NAME with real packages built by
Debian's conda-package-handling (cph) and a repodata.json per subdir carrying each file's sha256, md5
and size, as conda's indexer writes them.

PKG is "name=version=build[=build_number][;dep&dep...][;track_features][;constrain&...]"; odd-numbered
packages (per subdir) are written as .conda, the others as .tar.bz2, so both formats are read."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

root, name = sys.argv[1], sys.argv[2]
channel = os.path.join(root, name)
repodata = {}
for i, item in enumerate(sys.argv[3:]):
    subdir, spec = item.split(":", 1)
    fields = spec.split(";")
    parts = fields[0].split("=")
    pname, version, build = parts[0], parts[1], parts[2]
    build_number = int(parts[3]) if len(parts) > 3 else 0
    depends = [d.strip() for d in fields[1].split("&")] if len(fields) > 1 and fields[1] else []
    track = fields[2] if len(fields) > 2 else ""
    constrains = [d.strip() for d in fields[3].split("&")] if len(fields) > 3 and fields[3] else []
    index = {"name": pname, "version": version, "build": build, "build_number": build_number,
             "depends": depends, "subdir": subdir, "license": "MIT"}
    if track:
        index["track_features"] = track
    if constrains:
        index["constrains"] = constrains
    if subdir == "noarch":
        index["noarch"] = "generic"
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "info"))
        os.makedirs(os.path.join(tmp, "share", pname))
        payload = os.path.join("share", pname, "VERSION")
        with open(os.path.join(tmp, payload), "w") as f:
            f.write(version + "\n")
        with open(os.path.join(tmp, "info", "index.json"), "w") as f:
            json.dump(index, f)
        with open(os.path.join(tmp, "info", "files"), "w") as f:
            f.write(payload + "\n")
        with open(os.path.join(tmp, "info", "paths.json"), "w") as f:
            json.dump({"paths": [{"_path": payload, "path_type": "hardlink"}], "paths_version": 1}, f)
        out_dir = os.path.join(channel, subdir)
        os.makedirs(out_dir, exist_ok=True)
        fn = "%s-%s-%s.%s" % (pname, version, build, "conda" if i % 2 else "tar.bz2")
        subprocess.run(["cph", "create", tmp, fn, "--out-folder", out_dir], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = open(os.path.join(out_dir, fn), "rb").read()
    record = dict(index, sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(), size=len(data))
    key = "packages.conda" if fn.endswith(".conda") else "packages"
    repodata.setdefault(subdir, {"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}})[key][fn] = record
for subdir in set(list(repodata) + ["noarch", "linux-64"]):
    os.makedirs(os.path.join(channel, subdir), exist_ok=True)
    with open(os.path.join(channel, subdir, "repodata.json"), "w") as f:
        json.dump(repodata.get(subdir, {"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}}), f,
                  indent=1, sort_keys=True)
