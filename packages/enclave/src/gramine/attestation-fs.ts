/**
 * The in-enclave side of the Gramine backend: the {@link EnclaveServices} an enclave running in Node.js under
 * `gramine-sgx` gets from Gramine's `/dev/attestation` pseudo-files (Documentation/attestation.rst):
 *
 * | file                   | use here                                                                           |
 * |------------------------|------------------------------------------------------------------------------------|
 * | `attestation_type`     | read: "dcap" when the manifest says `sgx.remote_attestation = "dcap"`               |
 * | `user_report_data`     | write the 64-byte REPORTDATA used by the next `report` / `quote` read              |
 * | `target_info`          | write the 512-byte TARGETINFO the next `report` read is for                        |
 * | `my_target_info`       | read this enclave's own TARGETINFO                                                 |
 * | `report`               | read: EREPORT (432 bytes) over user_report_data for target_info                    |
 * | `quote`                | read: a DCAP quote over user_report_data                                           |
 * | `keys/_sgx_mrenclave`  | read: Gramine's 16-byte SGX seal key with policy MRENCLAVE (EGETKEY, KEYID = 0)     |
 * | `keys/_sgx_mrsigner`   | read: the seal key with policy MRSIGNER                                            |
 *
 * The write-then-read pairs are done with synchronous file calls, so no other JavaScript of this process can
 * interleave between them (the files are process-local in Gramine).
 *
 * Sealing: Gramine's seal keys are exactly those two `keys/_sgx_*` files (deterministic per enclave or signer and
 * platform). As Gramine's documentation advises, they are not used directly: an AES-256-GCM key is derived with
 * HKDF-SHA-256 (salt = the blob's random 32-byte salt, info = "cloister-enclave/gramine-seal/v1" ‖ policy). Blob:
 *
 * ```text
 * "CLGS" (4) ‖ version 1 (1) ‖ policy 1 MRENCLAVE | 2 MRSIGNER (1) ‖ salt (32) ‖ IV (12) ‖ u32 LE aad length ‖ aad ‖
 * ciphertext ‖ tag (16)
 * ```
 * The header, salt, IV and aad are authenticated as GCM additional data.
 *
 * Under `gramine-direct` (no SGX) the report, quote and key files do not exist: every call then fails with
 * BACKEND_UNAVAILABLE.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parseReportBody, sgxClaims, toHex } from '@cloister/dcap';
import { EnclaveError } from '../errors.js';
import type { EnclaveSelf, EnclaveServices, SealOptions, SealPolicy } from '../types.js';

/** The file operations GramineAttestation needs; the default is node:fs (synchronous). */
export interface AttestationFs {
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
}

export interface GramineAttestationOptions {
  /** Default /dev/attestation. */
  readonly root?: string;
  /** Default node:fs. */
  readonly fs?: AttestationFs;
}

export const GRAMINE_ATTESTATION_ROOT = '/dev/attestation';
const REPORT_SIZE = 432;
const TARGET_INFO_SIZE = 512;
const REPORT_DATA_SIZE = 64;
const SEAL_MAGIC = Uint8Array.of(0x43, 0x4c, 0x47, 0x53); // "CLGS"
const SEAL_VERSION = 1;
const SEAL_HEADER = 4 + 1 + 1 + 32 + 12 + 4;
const TAG_SIZE = 16;
const POLICY_CODE: Record<SealPolicy, number> = { MRENCLAVE: 1, MRSIGNER: 2 };
const KEY_FILE: Record<SealPolicy, string> = { MRENCLAVE: 'keys/_sgx_mrenclave', MRSIGNER: 'keys/_sgx_mrsigner' };

const nodeFs: AttestationFs = {
  readFile: (path) => new Uint8Array(readFileSync(path)),
  writeFile: (path, data) => writeFileSync(path, data),
};

export class GramineAttestation implements EnclaveServices {
  readonly root: string;
  readonly #fs: AttestationFs;
  #self: EnclaveSelf | undefined;

  constructor(options: GramineAttestationOptions = {}) {
    this.root = options.root ?? GRAMINE_ATTESTATION_ROOT;
    this.#fs = options.fs ?? nodeFs;
  }

  #path(name: string): string {
    return posix.join(this.root, name);
  }

  #fail(e: unknown, name: string): never {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new EnclaveError(
        'BACKEND_UNAVAILABLE',
        `not running under gramine-sgx: ${this.#path(name)} is absent (${this.root} is absent under gramine-direct, which has no attestation)`,
        { cause: e },
      );
    }
    throw new EnclaveError('ATTESTATION_FAILED', `${this.#path(name)}: ${(e as Error).message}`, { cause: e });
  }

  #read(name: string): Uint8Array {
    try {
      return this.#fs.readFile(this.#path(name));
    } catch (e) {
      this.#fail(e, name);
    }
  }

  #write(name: string, data: Uint8Array): void {
    try {
      this.#fs.writeFile(this.#path(name), data);
    } catch (e) {
      this.#fail(e, name);
    }
  }

  /** "dcap" or "none" (attestation_type). */
  attestationType(): string {
    return new TextDecoder().decode(this.#read('attestation_type')).replace(/\0+$/, '').trim();
  }

  /** This enclave's 512-byte TARGETINFO (my_target_info). */
  targetInfo(): Uint8Array {
    const ti = this.#read('my_target_info');
    if (ti.length !== TARGET_INFO_SIZE) throw new EnclaveError('ATTESTATION_FAILED', `my_target_info is ${ti.length} bytes, expected ${TARGET_INFO_SIZE}`);
    return ti;
  }

  #reportSync(reportData: Uint8Array, targetInfo: Uint8Array | undefined): Uint8Array {
    const padded = padReportData(reportData);
    const ti = targetInfo ?? this.targetInfo();
    if (!(ti instanceof Uint8Array) || ti.length !== TARGET_INFO_SIZE) {
      throw new EnclaveError('INVALID_ARGUMENT', `a TARGETINFO is ${TARGET_INFO_SIZE} bytes`);
    }
    this.#write('target_info', ti);
    this.#write('user_report_data', padded);
    const report = this.#read('report');
    if (report.length !== REPORT_SIZE) throw new EnclaveError('ATTESTATION_FAILED', `report is ${report.length} bytes, expected ${REPORT_SIZE}`);
    return report;
  }

  self(): EnclaveSelf {
    if (this.#self === undefined) {
      const claims = sgxClaims(parseReportBody(this.#reportSync(new Uint8Array(0), undefined).subarray(0, 384)));
      this.#self = Object.freeze({
        mrenclave: claims.mrenclave,
        mrsigner: claims.mrsigner,
        productId: claims.isvProdId,
        securityVersion: claims.isvSvn,
        debug: claims.debug,
      });
    }
    return this.#self;
  }

  async report(reportData: Uint8Array, targetInfo?: Uint8Array): Promise<Uint8Array> {
    return this.#reportSync(reportData, targetInfo);
  }

  async quote(reportData: Uint8Array): Promise<Uint8Array> {
    const padded = padReportData(reportData);
    this.#write('user_report_data', padded);
    let quote: Uint8Array;
    try {
      quote = this.#fs.readFile(this.#path('quote'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        let type: string | undefined;
        try {
          type = this.attestationType();
        } catch {
          type = undefined;
        }
        if (type !== undefined && type !== 'dcap') {
          throw new EnclaveError('ATTESTATION_FAILED', `attestation_type is "${type}": set sgx.remote_attestation = "dcap" in the manifest`, { cause: e });
        }
      }
      this.#fail(e, 'quote');
    }
    if (quote.length < 48 + 384) throw new EnclaveError('ATTESTATION_FAILED', `quote is ${quote.length} bytes: too short to be a DCAP quote`);
    return quote;
  }

  #sealKey(policy: SealPolicy, salt: Uint8Array): Buffer {
    const raw = this.#read(KEY_FILE[policy]);
    if (raw.length !== 16) throw new EnclaveError('ATTESTATION_FAILED', `${KEY_FILE[policy]} is ${raw.length} bytes, expected 16`);
    const info = new TextEncoder().encode(`cloister-enclave/gramine-seal/v1 ${policy}`);
    return Buffer.from(hkdfSync('sha256', raw, salt, info, 32));
  }

  async seal(data: Uint8Array, options: SealOptions = {}): Promise<Uint8Array> {
    const policy = options.policy ?? 'MRSIGNER';
    if (policy !== 'MRENCLAVE' && policy !== 'MRSIGNER') throw new EnclaveError('INVALID_ARGUMENT', 'seal policy is MRENCLAVE or MRSIGNER');
    if (!(data instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', 'sealed data must be a Uint8Array');
    const aad = options.additionalData ?? new Uint8Array(0);
    if (!(aad instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', 'additionalData must be a Uint8Array');
    const salt = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(12));
    const header = new Uint8Array(SEAL_HEADER + aad.length);
    header.set(SEAL_MAGIC, 0);
    header[4] = SEAL_VERSION;
    header[5] = POLICY_CODE[policy];
    header.set(salt, 6);
    header.set(iv, 38);
    new DataView(header.buffer).setUint32(50, aad.length, true);
    header.set(aad, SEAL_HEADER);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey(policy, salt), iv);
    cipher.setAAD(header);
    const ct = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    const out = new Uint8Array(header.length + ct.length);
    out.set(header, 0);
    out.set(ct, header.length);
    return out;
  }

  async unseal(blob: Uint8Array): Promise<{ data: Uint8Array; additionalData: Uint8Array }> {
    const refuse = (why: string, cause?: unknown): never => {
      throw new EnclaveError('UNSEAL_FAILED', `this enclave cannot unseal the blob: ${why}`, cause === undefined ? undefined : { cause });
    };
    if (!(blob instanceof Uint8Array) || blob.length < SEAL_HEADER + TAG_SIZE) refuse('too short');
    if (toHex(blob.subarray(0, 4)) !== toHex(SEAL_MAGIC) || blob[4] !== SEAL_VERSION) refuse('not a Gramine-sealed blob of version 1');
    const policy: SealPolicy | undefined = blob[5] === 1 ? 'MRENCLAVE' : blob[5] === 2 ? 'MRSIGNER' : undefined;
    if (policy === undefined) refuse(`unknown policy ${blob[5]}`);
    const aadLength = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(50, true);
    if (SEAL_HEADER + aadLength + TAG_SIZE > blob.length) refuse('truncated');
    const header = blob.subarray(0, SEAL_HEADER + aadLength);
    const ct = blob.subarray(header.length, blob.length - TAG_SIZE);
    const tag = blob.subarray(blob.length - TAG_SIZE);
    const key = this.#sealKey(policy!, blob.subarray(6, 38));
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(38, 50));
      decipher.setAAD(header);
      decipher.setAuthTag(tag);
      const data = new Uint8Array(Buffer.concat([decipher.update(ct), decipher.final()]));
      return { data, additionalData: header.slice(SEAL_HEADER) };
    } catch (e) {
      return refuse(`authentication failed (sealed by another ${policy === 'MRENCLAVE' ? 'enclave' : 'signer'} or platform, or modified)`, e);
    }
  }
}

function padReportData(reportData: Uint8Array): Uint8Array {
  if (!(reportData instanceof Uint8Array) || reportData.length > REPORT_DATA_SIZE) {
    throw new EnclaveError('INVALID_ARGUMENT', `report data is a Uint8Array of at most ${REPORT_DATA_SIZE} bytes`);
  }
  const padded = new Uint8Array(REPORT_DATA_SIZE);
  padded.set(reportData);
  return padded;
}
