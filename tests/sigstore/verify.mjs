// node tests/sigstore/verify.mjs BUNDLE PUBLIC-KEY [ARTIFACT]: sigstore-js reads a sigstore bundle
// (bundleFromJSON checks its structure) and verifies its signature with the public key, as a
// sigstore client does for a key-signed bundle: no transparency log entry and no timestamp are
// required (amlpkg signs offline). ARTIFACT is the signed bytes of a message-signature bundle.
// Prints "verified" and exits 0, or prints the error and exits 1.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';

const [bundlePath, keyPath, artifactPath] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const key = crypto.createPublicKey(fs.readFileSync(keyPath));
  const root = { mediaType: '', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
  const trust = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
  const entity = toSignedEntity(bundle, artifactPath ? fs.readFileSync(artifactPath) : undefined);
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
  console.log('verified');
} catch (e) {
  console.log(`refused: ${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
