/**
 * A simulated SGX machine: its TCB (FMSPC, PCE-ID, CPUSVN / SGX TCB components, PCESVN), identifiers (PPID, platform
 * instance ID), EPC size, and one 32-byte platform secret from which every key of the machine derives (base keys of
 * EGETKEY, the PCK and attestation keys, the simulated CAs). In memory for tests, or a directory
 * (`cloister sim init DIR`): `platform.json` (mode 0644, public facts) and `platform.secret` (mode 0600).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '@cloister/dcap';
import { SimError } from './errors.js';

export interface PlatformConfig {
  /** 6 bytes, 12 hex digits. */
  readonly fmspc: string;
  /** 2 bytes, 4 hex digits. */
  readonly pceId: string;
  /** SGX TCB components comp01..comp16; CPUSVN is these 16 bytes, as in Intel's PCK certificates. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** 16 bytes, 32 hex digits. */
  readonly ppid: string;
  /** 16 bytes, 32 hex digits. */
  readonly platformInstanceId: string;
  readonly epcSizeMiB: number;
  /** ISVSVN of the simulated Quoting Enclave. */
  readonly qeSvn: number;
  /** ISO-8601: when the platform (and its simulated PKI) was made; certificates are valid from here. */
  readonly createdAt: string;
}

export const DEFAULT_PLATFORM_CONFIG: Omit<PlatformConfig, 'ppid' | 'platformInstanceId' | 'createdAt'> = {
  fmspc: '00906ed50000',
  pceId: '0000',
  sgxTcbComponents: [7, 9, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
  epcSizeMiB: 64,
  qeSvn: 8,
};

const CONFIG_FILE = 'platform.json';
const SECRET_FILE = 'platform.secret';
const KIND = 'cloister-sgx-sim-platform';

function checkHex(value: unknown, bytes: number, what: string): string {
  if (typeof value !== 'string' || !new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) {
    throw new SimError('PLATFORM_INVALID', `${what} must be ${bytes * 2} hex digits`);
  }
  return value.toLowerCase();
}

function checkInt(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SimError('PLATFORM_INVALID', `${what} must be an integer 0..${max}`);
  }
  return value;
}

function validateConfig(raw: Partial<PlatformConfig> & Record<string, unknown>): PlatformConfig {
  const comps = raw.sgxTcbComponents;
  if (!Array.isArray(comps) || comps.length !== 16) {
    throw new SimError('PLATFORM_INVALID', 'sgxTcbComponents must be 16 integers');
  }
  const createdAt = typeof raw.createdAt === 'string' ? raw.createdAt : '';
  if (!Number.isFinite(Date.parse(createdAt))) throw new SimError('PLATFORM_INVALID', 'createdAt must be an ISO-8601 time');
  return {
    fmspc: checkHex(raw.fmspc, 6, 'fmspc'),
    pceId: checkHex(raw.pceId, 2, 'pceId'),
    sgxTcbComponents: comps.map((c, i) => checkInt(c, 255, `sgxTcbComponents[${i}]`)),
    pceSvn: checkInt(raw.pceSvn, 0xffff, 'pceSvn'),
    ppid: checkHex(raw.ppid, 16, 'ppid'),
    platformInstanceId: checkHex(raw.platformInstanceId, 16, 'platformInstanceId'),
    epcSizeMiB: checkInt(raw.epcSizeMiB, 1 << 20, 'epcSizeMiB'),
    qeSvn: checkInt(raw.qeSvn, 0xffff, 'qeSvn'),
    createdAt: new Date(createdAt).toISOString(),
  };
}

export interface CreatePlatformOptions extends Partial<PlatformConfig> {
  /** 32 bytes; random by default. A fixed secret makes every key of the platform reproducible (tests). */
  readonly secret?: Uint8Array;
}

export class Platform {
  readonly config: PlatformConfig;
  readonly #secret: Uint8Array;
  readonly #derived = new Map<string, Uint8Array>();

  private constructor(config: PlatformConfig, secret: Uint8Array) {
    if (secret.length !== 32) throw new SimError('PLATFORM_INVALID', 'the platform secret must be 32 bytes');
    this.config = Object.freeze({ ...config, sgxTcbComponents: Object.freeze([...config.sgxTcbComponents]) });
    this.#secret = new Uint8Array(secret);
  }

  /** A platform in memory. Defaults: an Ice Lake–like SGX server (FMSPC 00906ED50000), random PPID and secret. */
  static create(options: CreatePlatformOptions = {}): Platform {
    const { secret, ...rest } = options;
    const config = validateConfig({
      ...DEFAULT_PLATFORM_CONFIG,
      ppid: toHex(randomBytes(16)),
      platformInstanceId: toHex(randomBytes(16)),
      createdAt: new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000).toISOString(),
      ...rest,
    });
    return new Platform(config, secret ?? new Uint8Array(randomBytes(32)));
  }

  /** Load a platform directory made by {@link save} / `cloister sim init`. */
  static load(dir: string): Platform {
    const configPath = join(dir, CONFIG_FILE);
    const secretPath = join(dir, SECRET_FILE);
    if (!existsSync(configPath) || !existsSync(secretPath)) {
      throw new SimError('PLATFORM_INVALID', `${dir} is not a simulated platform (run: cloister sim init ${dir})`);
    }
    if ((statSync(secretPath).mode & 0o077) !== 0) {
      throw new SimError('PLATFORM_INVALID', `${secretPath} must not be readable by group or others (chmod 600)`);
    }
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new SimError('PLATFORM_INVALID', `${configPath} is not JSON`, { cause: e });
    }
    if (raw['kind'] !== KIND) throw new SimError('PLATFORM_INVALID', `${configPath} is not a Cloister simulated platform`);
    const secret = readFileSync(secretPath);
    return new Platform(validateConfig(raw as Partial<PlatformConfig> & Record<string, unknown>), new Uint8Array(secret));
  }

  /** Write `platform.json` and `platform.secret` (0600) into `dir` (created 0700 if missing). */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, CONFIG_FILE), `${JSON.stringify({ kind: KIND, simulated: true, ...this.config }, null, 2)}\n`, {
      mode: 0o644,
    });
    const secretPath = join(dir, SECRET_FILE);
    writeFileSync(secretPath, this.#secret, { mode: 0o600 });
    chmodSync(secretPath, 0o600);
  }

  /** CPUSVN: the 16 SGX TCB components as bytes. */
  get cpuSvn(): Uint8Array {
    return Uint8Array.from(this.config.sgxTcbComponents);
  }

  get fmspc(): Uint8Array {
    return fromHex(this.config.fmspc);
  }

  get pceId(): Uint8Array {
    return fromHex(this.config.pceId);
  }

  /**
   * A key of this platform: HKDF-SHA256 (RFC 5869) with the platform secret as input keying material, the salt
   * "cloister-sgx-sim v1" and `label` as info. Deterministic per (platform, label); labels are documented in
   * docs/simulator.md.
   */
  derive(label: string, length = 32): Uint8Array {
    const k = `${label}\u0000${length}`;
    let out = this.#derived.get(k);
    if (out === undefined) {
      out = hkdfSha256(this.#secret, 'cloister-sgx-sim v1', label, length);
      this.#derived.set(k, out);
    }
    return out;
  }
}

/** RFC 5869 HKDF with SHA-256 (extract, then expand). */
function hkdfSha256(ikm: Uint8Array, salt: string, info: string, length: number): Uint8Array {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const out = new Uint8Array(length);
  let prev = Buffer.alloc(0);
  for (let i = 0, off = 0; off < length; i++) {
    prev = createHmac('sha256', prk).update(prev).update(info).update(Uint8Array.of(i + 1)).digest();
    out.set(prev.subarray(0, Math.min(prev.length, length - off)), off);
    off += prev.length;
  }
  return out;
}
