/**
 * A key releaser without a broker: it does, in process, what the attestation service and the key broker do —
 * verifies the enclave's quote (@cloister/enclave verifyEvidence: @cloister/dcap + the @cloister/policy engine),
 * checks that REPORTDATA binds the runtime data, takes the RSA key of its `keys`, and wraps the model key to it
 * exactly as Azure Key Vault Secure Key Release does (key-release.ts). For tests, development and single-machine
 * demos; production uses httpKeyRelease against the attestation service and the key broker.
 */
import { verifyEvidence, type VerifyEvidenceOptions } from '@cloister/enclave';
import type { EnclavePolicy, Policy } from '@cloister/policy';
import { InferenceError } from '../errors.js';
import { wrapKeyForJwk } from '../key-release.js';
import { parseRuntimeData } from '../runtime-data.js';
import { toBase64Url } from '../bytes.js';
import type { KeyReleaser } from './key-release.js';

export interface LocalKeyReleaseOptions {
  /** The 32-byte model key. */
  readonly key: Uint8Array;
  /** The release policy: which enclave may have the key. */
  readonly policy: EnclavePolicy | Policy;
  readonly verifyOptions: VerifyEvidenceOptions;
  /** Also require this model hash in the runtime data. */
  readonly modelHash?: string;
}

export function localKeyRelease(options: LocalKeyReleaseOptions): KeyReleaser & { readonly releases: number } {
  let releases = 0;
  return {
    get releases() {
      return releases;
    },
    async release(evidence) {
      let verified;
      try {
        verified = await verifyEvidence(evidence.quote, options.policy, options.verifyOptions);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        const rule = (e as { rule?: unknown }).rule;
        throw new InferenceError('KEY_RELEASE_FAILED', `the release policy refuses this enclave${typeof rule === 'string' ? ` (rule ${rule})` : ''}`, {
          cause: e,
          ...(typeof code === 'string' ? { remoteCode: code } : {}),
        });
      }
      const doc = await parseRuntimeData(evidence.runtimeData, verified.reportData);
      if (options.modelHash !== undefined && doc['model-hash'] !== options.modelHash) {
        throw new InferenceError('KEY_RELEASE_FAILED', 'the enclave holds another model blob');
      }
      const jwk = doc.keys[0];
      if (jwk === undefined) throw new InferenceError('KEY_RELEASE_FAILED', 'the runtime data holds no wrapping key');
      releases++;
      // The 7.3 REST example's shape: base64url JSON of { response: { key: { key: { key_hsm } } } }.
      const payload = { request: { enc: 'RSA_AES_KEY_WRAP_256' }, response: { key: { key: { kty: 'oct-HSM', key_hsm: wrapKeyForJwk(jwk, options.key) } } } };
      return toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
    },
  };
}
