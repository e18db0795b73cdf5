#!/usr/bin/python3
"""conda_channel.py DIR NAME SUBDIR:PKG... : makes a conda channel at DIR/NAME with real packages built by
Debian's conda-package-handling (cph) and a repodata.json per subdir carrying each file's sha256, md5
and size, as conda's indexer writes them.

PKG is "name=version=build[=build_number][;dep&dep...][;track_features][;constrain&...][;RECIPE]"; odd-numbered
packages (per subdir) are written as .conda, the others as .tar.bz2, so both formats are read. Without a
RECIPE a package holds one file, share/NAME/VERSION. RECIPEs make packages that installing has to get right:
  python-min, python-full  an interpreter made from Debian's Python 3.11: bin/python3.11 and links to it,
                           the standard library (the modules a small program imports, or all of it) and
                           a .pth that puts lib/python3.11/site-packages on sys.path (Debian's interpreter
                           looks in dist-packages)
  noarch-python            a noarch: python package: site-packages/NAME/, a python-scripts/ script and an
                           entry point NAME = NAME.cli:main (info/link.json); its main() prints
                           "NAME says <fastext.add(2, 3)>"
  extension                a compiled extension, lib/python3.11/site-packages/fastext.cpython-311-*.so,
                           built with gcc against /usr/include/python3.11 (add(a, b))
  prefix                   text and binary files holding a long prefix placeholder (info/paths.json)
  prefix-legacy            the same described by info/files and info/has_prefix (older packages)
  prefix-short             a binary file whose placeholder (/opt/x) is shorter than any install prefix
  post-link                a bin/.NAME-post-link.sh script that runs bin/NAME-tool (found on PATH through
                           $PREFIX/bin), writes share/NAME/post-link.txt ("$PKG_NAME $PKG_VERSION $PKG_BUILDNUM
                           $PREFIX <tool's output>") and appends NAME to share/post-link-order.txt
  post-link-fail           a post-link script that says "NAME: cannot configure" on stderr and exits 3
  hardlinks                share/NAME/a.txt and share/NAME/b.txt: one file with two names (a hard link)
  dirlink                  lib/NAME.txt and lib64 -> lib (a symbolically linked folder, as glibc-like packages)
  via-dirlink              lib64/NAME.txt: installed through an earlier package's lib64 -> lib
  bulk                     share/NAME/ with 20 files of 4 KiB (benchmarks)
A trailing "!format" on the recipe (".conda" or ".tar.bz2") overrides the alternation."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

PLACEHOLDER = "/opt/conda-bld/prefixdemo_" + "placehold_" * 20  # 226 bytes, like conda-build's long prefix
PY = "/usr/bin/python3.11"
STDLIB = "/usr/lib/python3.11"


def write(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return rel


def stdlib_files(full):
    """The standard library's files to ship: all of it, or what a small program and amlserve's worker import."""
    if full:
        out = []
        for d, dirs, files in os.walk(STDLIB):
            dirs[:] = [x for x in dirs if x not in ("__pycache__", "dist-packages", "site-packages", "test")]
            out += [os.path.join(d, f) for f in files if f != "EXTERNALLY-MANAGED"]
        return out
    probe = ("import sys, re, json, site, runpy, argparse, importlib.util\n"
             "print('\\n'.join(getattr(m, '__file__', None) or '' for m in list(sys.modules.values())))")
    names = subprocess.run([PY, "-I", "-c", probe], check=True, capture_output=True, text=True).stdout.split()
    out = {f for f in names if f.startswith(STDLIB + "/") and "dist-packages" not in f}
    for f in list(out):  # the packages' __init__ files up to the top
        d = os.path.dirname(f)
        while d != STDLIB:
            init = os.path.join(d, "__init__.py")
            if os.path.exists(init):
                out.add(init)
            d = os.path.dirname(d)
    out.add(os.path.join(STDLIB, "os.py"))  # the landmark that sets sys.prefix
    return sorted(out)


def recipe_files(tmp, kind, pname, version, index):
    """Writes the package's files under tmp; returns its paths.json entries."""
    paths = []
    if kind.startswith("python-"):
        os.makedirs(os.path.join(tmp, "bin"))
        shutil.copy2(PY, os.path.join(tmp, "bin", "python3.11"))
        paths.append({"_path": "bin/python3.11", "path_type": "hardlink"})
        for link in ("python3", "python"):
            os.symlink("python3.11", os.path.join(tmp, "bin", link))
            paths.append({"_path": "bin/" + link, "path_type": "softlink"})
        for f in stdlib_files(kind == "python-full"):
            rel = os.path.join("lib", "python3.11", os.path.relpath(f, STDLIB))
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            shutil.copy2(f, os.path.join(tmp, rel))
            paths.append({"_path": rel, "path_type": "hardlink"})
        paths.append({"_path": write(tmp, "lib/python3.11/dist-packages/conda-site-packages.pth", "../site-packages\n"),
                      "path_type": "hardlink"})
    elif kind == "noarch-python":
        index["noarch"] = "python"
        paths.append({"_path": write(tmp, "site-packages/%s/__init__.py" % pname, "__version__ = %r\n" % version)})
        paths.append({"_path": write(tmp, "site-packages/%s/cli.py" % pname,
                                     "import fastext\n\n\ndef main():\n    print('%s says', fastext.add(2, 3))\n"
                                     "    return 0\n" % pname)})
        paths.append({"_path": write(tmp, "python-scripts/%s-hello" % pname, "#!/usr/bin/env python\nprint('hi')\n",
                                     0o755)})
        write(tmp, "info/link.json", json.dumps({"noarch": {"type": "python", "entry_points": [
            "%s = %s.cli:main" % (pname, pname)]}, "package_metadata_version": 1}))
    elif kind == "extension":
        src = os.path.join(tmp, "fastext.c")
        with open(src, "w") as f:
            f.write('#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n'
                    'static PyObject *add(PyObject *self, PyObject *args) {\n'
                    '    long a, b;\n    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;\n'
                    '    return PyLong_FromLong(a + b);\n}\n'
                    'static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};\n'
                    'static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "fastext", NULL, -1, methods};\n'
                    'PyMODINIT_FUNC PyInit_fastext(void) { return PyModule_Create(&mod); }\n')
        rel = "lib/python3.11/site-packages/fastext" + sysconfig.get_config_var("EXT_SUFFIX")
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)))
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-I/usr/include/python3.11", "-o", os.path.join(tmp, rel),
                        src], check=True)
        os.unlink(src)
        paths.append({"_path": rel})
    elif kind in ("prefix", "prefix-legacy"):
        paths.append({"_path": write(tmp, "etc/%s.conf" % pname, "home=%s/share/%s\nagain=%s\n" % (
            PLACEHOLDER, pname, PLACEHOLDER)), "prefix_placeholder": PLACEHOLDER, "file_mode": "text"})
        blob = b"\x7fBIN\x00" + (PLACEHOLDER + "/lib/libdemo.so").encode() + b"\x00TAIL" + bytes(range(256))
        paths.append({"_path": write(tmp, "bin/%s-bin" % pname, blob, 0o755), "prefix_placeholder": PLACEHOLDER,
                      "file_mode": "binary"})
        paths.append({"_path": write(tmp, "share/%s/plain.txt" % pname, "no prefix here\n")})
        paths.append({"_path": "share/%s/link" % pname, "path_type": "softlink"})
        os.symlink("plain.txt", os.path.join(tmp, "share", pname, "link"))
    elif kind == "prefix-short":
        paths.append({"_path": write(tmp, "lib/short.bin", b"\x00/opt/x/lib\x00"), "prefix_placeholder": "/opt/x",
                      "file_mode": "binary"})
    elif kind == "post-link":
        paths.append({"_path": write(tmp, "bin/%s-tool" % pname, "#!/bin/sh\necho tool-of-%s\n" % pname, 0o755)})
        paths.append({"_path": write(tmp, "bin/.%s-post-link.sh" % pname, (
            "#!/bin/sh\n"
            "echo \"post-link of $PKG_NAME running\"\n"
            "mkdir -p \"$PREFIX/share/$PKG_NAME\"\n"
            "echo \"$PKG_NAME $PKG_VERSION $PKG_BUILDNUM $PREFIX $(%s-tool)\" > \"$PREFIX/share/$PKG_NAME/post-link.txt\"\n"
            "echo \"$PKG_NAME\" >> \"$PREFIX/share/post-link-order.txt\"\n") % pname, 0o755)})
    elif kind == "post-link-fail":
        paths.append({"_path": write(tmp, "bin/.%s-post-link.sh" % pname,
                                     "#!/bin/sh\necho \"%s: cannot configure\" >&2\nexit 3\n" % pname, 0o755)})
    elif kind == "hardlinks":
        paths.append({"_path": write(tmp, "share/%s/a.txt" % pname, "one file, two names\n")})
        os.link(os.path.join(tmp, "share", pname, "a.txt"), os.path.join(tmp, "share", pname, "b.txt"))
        paths.append({"_path": "share/%s/b.txt" % pname})
    elif kind == "dirlink":
        paths.append({"_path": write(tmp, "lib/%s.txt" % pname, "in lib\n")})
        os.symlink("lib", os.path.join(tmp, "lib64"))
        paths.append({"_path": "lib64", "path_type": "softlink"})
    elif kind == "via-dirlink":
        paths.append({"_path": write(tmp, "lib64/%s.txt" % pname, "through lib64\n")})
    elif kind == "bulk":
        for k in range(20):
            paths.append({"_path": write(tmp, "share/%s/data%02d.bin" % (pname, k),
                                         hashlib.sha256(("%s%d" % (pname, k)).encode()).digest() * 128)})
    else:
        raise SystemExit("unknown recipe " + kind)
    for p in paths:
        p.setdefault("path_type", "hardlink")
    if kind == "prefix-legacy":
        write(tmp, "info/has_prefix", "".join("%s %s %s\n" % (PLACEHOLDER, p["file_mode"], p["_path"])
                                              for p in paths if "prefix_placeholder" in p))
        return None, paths
    return paths, paths


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
    recipe, fmt = (fields[4].split("!") + [""])[:2] if len(fields) > 4 and fields[4] else ("", "")
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
        if recipe:
            paths_json, listed = recipe_files(tmp, recipe, pname, version, index)
        else:
            payload = write(tmp, os.path.join("share", pname, "VERSION"), version + "\n")
            paths_json = listed = [{"_path": payload, "path_type": "hardlink"}]
        with open(os.path.join(tmp, "info", "index.json"), "w") as f:
            json.dump(index, f)
        with open(os.path.join(tmp, "info", "files"), "w") as f:
            f.write("".join(p["_path"] + "\n" for p in listed))
        if paths_json is not None:
            with open(os.path.join(tmp, "info", "paths.json"), "w") as f:
                json.dump({"paths": paths_json, "paths_version": 1}, f)
        out_dir = os.path.join(channel, subdir)
        os.makedirs(out_dir, exist_ok=True)
        ext = fmt or ("conda" if i % 2 else "tar.bz2")
        fn = "%s-%s-%s.%s" % (pname, version, build, ext.lstrip("."))
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
