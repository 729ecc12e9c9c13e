/**
 * The JSON Patch the mutating webhook returns (RFC 6902; admission.k8s.io/v1 AdmissionResponse.patchType "JSONPatch").
 * Every operation the planner emits is an `add` whose path names an object member whose parent already exists
 * (RFC 6902 §4.1: "If the target location specifies an object member that does exist, that member's value is
 * replaced"). Lists are replaced whole, never appended with "-", and nothing is removed with `remove`: applying the
 * same patch twice yields the same object, and re-running the webhook on its own output plans no operation
 * (reinvocationPolicy: IfNeeded).
 */
import type { JsonValue } from './json.js';

export interface AddOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: JsonValue;
}

export type PatchOperation = AddOperation;
