/**
 * The index's Ed25519 key: created on first start in `<home>/keys/`, private key mode 0600.
 * Signs version records and attestations; a record that fails its signature counts as absent.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Signer {
  /** First 16 hex digits of the sha256 of the raw public key. */
  readonly keyId: string;
  /** The public key as SPKI PEM, for `api/keys`. */
  readonly publicKeyPem: string;
  sign(data: string): string;
  verify(data: string, signature: string): boolean;
}

/** Loads the key from `dir`; throws when there is none. */
export function loadSigner(dir: string): Signer {
  const file = join(dir, 'index-ed25519.pem');
  if (!existsSync(file)) throw new Error(`no index key at ${file}`);
  return createSigner(createPrivateKey(readFileSync(file)));
}

/** Loads the key from `dir`, creating it when absent. */
export function loadOrCreateSigner(dir: string): Signer {
  const file = join(dir, 'index-ed25519.pem');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
  }
  return createSigner(createPrivateKey(readFileSync(file)));
}

export function createSigner(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return {
    keyId,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (data) => sign(null, Buffer.from(data), privateKey).toString('base64'),
    verify: (data, signature) => verifySignature(publicKey, data, signature),
  };
}

/** Verifies with a public key only (for attestations checked away from the server). */
export function verifySignature(publicKey: KeyObject, data: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(data), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
