/**
 * Open Inference Protocol v2 (KServe "V2 inference protocol", REST/JSON) — the shapes this server speaks,
 * browser-safe. Spec: kserve/open-inference-protocol, specification/protocol/inference_rest.md:
 *
 * - `$inference_request = { "id"?, "parameters"?, "inputs": [$request_input], "outputs"? }`,
 *   `$request_input = { "name", "shape": [int], "datatype", "parameters"?, "data": $tensor_data }`;
 * - `$inference_response = { "model_name", "model_version"?, "id"?, "parameters"?, "outputs": [$response_output] }`;
 * - tensor data is row-major, flat or nested arrays; BYTES elements are strings in JSON. A BYTES input whose
 *   `parameters.content_type` is "base64" carries base64 bytes (MLServer's codec convention);
 * - errors: `{ "error": "<message>" }` with a non-200 status. This server adds `"code"` (its InferenceError code).
 */
import { InferenceError } from './errors.js';

export type Datatype = 'BOOL' | 'UINT8' | 'INT32' | 'INT64' | 'FP32' | 'FP64' | 'BYTES';

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface RequestInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: Datatype;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly data: readonly (number | string | boolean)[];
}

export interface InferenceRequest {
  readonly id?: string;
  readonly inputs: readonly RequestInput[];
}

export interface ResponseOutput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: Datatype;
  readonly data: readonly (number | string)[];
}

export interface InferenceResponse {
  readonly model_name: string;
  readonly model_version?: string;
  readonly id?: string;
  readonly outputs: readonly ResponseOutput[];
}

const DATATYPES: readonly string[] = ['BOOL', 'UINT8', 'INT32', 'INT64', 'FP32', 'FP64', 'BYTES'];

function bad(field: string, message: string): never {
  throw new InferenceError('INVALID_REQUEST', message, { field });
}

/** Flatten nested tensor data (row-major) with an element budget. */
function flatten(value: unknown, out: (number | string | boolean)[], max: number, field: string): void {
  if (Array.isArray(value)) {
    for (const v of value) flatten(v, out, max, field);
    return;
  }
  if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') bad(field, 'tensor data holds a non-scalar');
  if (out.length >= max) throw new InferenceError('TOO_LARGE', `a tensor is over ${max} elements`, { limit: 'maxTensorElements' });
  out.push(value);
}

/** Validate a parsed JSON body as an inference request (element counts checked against shapes and `maxElements`). */
export function parseInferenceRequest(body: unknown, maxElements: number): InferenceRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('body', 'the request must be a JSON object');
  const b = body as Record<string, unknown>;
  if (b.id !== undefined && (typeof b.id !== 'string' || b.id.length > 256)) bad('id', 'id must be a string of at most 256 characters');
  if (!Array.isArray(b.inputs) || b.inputs.length === 0 || b.inputs.length > 8) bad('inputs', 'inputs must be an array of 1..8 tensors');
  const inputs: RequestInput[] = [];
  for (const [i, raw] of (b.inputs as unknown[]).entries()) {
    const field = `inputs[${i}]`;
    if (typeof raw !== 'object' || raw === null) bad(field, `${field} must be an object`);
    const r = raw as Record<string, unknown>;
    if (typeof r.name !== 'string' || r.name.length === 0 || r.name.length > 128) bad(`${field}.name`, `${field}.name must be a string`);
    if (typeof r.datatype !== 'string' || !DATATYPES.includes(r.datatype)) bad(`${field}.datatype`, `${field}.datatype is not a supported datatype`);
    if (!Array.isArray(r.shape) || r.shape.length > 8 || !r.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      bad(`${field}.shape`, `${field}.shape must be an array of non-negative integers`);
    }
    const count = (r.shape as number[]).reduce((n, d) => n * d, 1);
    if (count > maxElements) throw new InferenceError('TOO_LARGE', `${field} is over ${maxElements} elements`, { limit: 'maxTensorElements' });
    const data: (number | string | boolean)[] = [];
    flatten(r.data, data, maxElements, `${field}.data`);
    if (data.length !== count) bad(`${field}.data`, `${field}.data has ${data.length} elements, its shape ${count}`);
    const parameters = r.parameters;
    if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))) {
      bad(`${field}.parameters`, `${field}.parameters must be an object`);
    }
    inputs.push({
      name: r.name,
      datatype: r.datatype as Datatype,
      shape: r.shape as number[],
      data,
      ...(parameters !== undefined ? { parameters: parameters as Record<string, unknown> } : {}),
    });
  }
  return { ...(typeof b.id === 'string' ? { id: b.id } : {}), inputs };
}

/** The error body of the protocol, with this server's code. */
export function errorBody(e: InferenceError): { error: string; code: string; limit?: string; field?: string } {
  return {
    error: e.message,
    code: e.code,
    ...(e.limit !== undefined ? { limit: e.limit } : {}),
    ...(e.field !== undefined ? { field: e.field } : {}),
  };
}
