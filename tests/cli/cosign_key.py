#!/usr/bin/python3
"""Writes a private key in cosign's own encrypted format, independently of amlpkg: libsodium's
secretbox (PyNaCl) and Python's scrypt, as go-securesystemslib's "encrypted" package lays it out.
Usage: cosign_key.py PKCS8-PEM-IN OUT PASSPHRASE [LABEL]
(LABEL: "ENCRYPTED SIGSTORE PRIVATE KEY", the default, or the older "ENCRYPTED COSIGN PRIVATE KEY").
       cosign_key.py --open COSIGN-KEY-IN PKCS8-PEM-OUT PASSPHRASE
opens one (what cosign sign --key does with it) and writes the key as PEM PKCS#8."""
import base64, hashlib, json, os, subprocess, sys
import nacl.secret

if sys.argv[1] == "--open":
    src, out, passphrase = sys.argv[2:5]
    lines = open(src).read().splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----" and lines[-1].startswith("-----END ENCRYPTED SIGSTORE")
    doc = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert doc["kdf"]["name"] == "scrypt" and doc["cipher"]["name"] == "nacl/secretbox"
    params = doc["kdf"]["params"]
    key = hashlib.scrypt(passphrase.encode(), salt=base64.b64decode(doc["kdf"]["salt"]), n=params["N"], r=params["r"],
                         p=params["p"], maxmem=64 << 20, dklen=32)
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"]))
    pem = subprocess.run(["openssl", "pkey", "-inform", "DER", "-out", out], input=der, check=True, capture_output=True)
    sys.exit(0)

src, out, passphrase = sys.argv[1:4]
label = sys.argv[4] if len(sys.argv) > 4 else "ENCRYPTED SIGSTORE PRIVATE KEY"
der = subprocess.run(["openssl", "pkey", "-in", src, "-outform", "DER"], check=True, capture_output=True).stdout
salt, nonce = os.urandom(32), os.urandom(24)
key = hashlib.scrypt(passphrase.encode(), salt=salt, n=32768, r=8, p=1, maxmem=64 << 20, dklen=32)
box = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext  # tag || ciphertext
doc = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
       "ciphertext": base64.b64encode(box).decode()}
body = base64.b64encode(json.dumps(doc).encode()).decode()
with open(out, "w") as f:
    f.write(f"-----BEGIN {label}-----\n")
    for i in range(0, len(body), 64):
        f.write(body[i:i + 64] + "\n")
    f.write(f"-----END {label}-----\n")
os.chmod(out, 0o600)
