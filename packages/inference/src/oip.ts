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
 *
 * Binary tensor data extension (KServe/Triton "binary_tensor_data"): with the request header
 * `Inference-Header-Content-Length: N`, the body is N bytes of JSON followed by the raw tensors, in input order; an
 * input carrying `"parameters": { "binary_data_size": B }` has no `data`, its B bytes are its elements row-major,
 * little-endian (FP32: 4 bytes each). Used for FP32 tensors, whose JSON text is 3–5 × larger and slower to parse.
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
  /** JSON elements, or (binary extension, FP32) the tensor itself. */
  readonly data: readonly (number | string | boolean)[] | Float32Array;
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

/** Bytes per element of the datatypes the binary extension is accepted for. */
const BINARY_SIZES: Partial<Record<Datatype, number>> = { FP32: 4 };

/**
 * Validate a parsed JSON body as an inference request (element counts checked against shapes and `maxElements`).
 * `binary`: the bytes after the JSON header (binary tensor data extension), consumed in input order.
 */
export function parseInferenceRequest(body: unknown, maxElements: number, binary?: Uint8Array): InferenceRequest {
  let binaryAt = 0;
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
    const parameters = r.parameters;
    if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))) {
      bad(`${field}.parameters`, `${field}.parameters must be an object`);
    }
    const binarySize = (parameters as Record<string, unknown> | undefined)?.binary_data_size;
    let data: (number | string | boolean)[] | Float32Array;
    if (binarySize !== undefined) {
      const width = BINARY_SIZES[r.datatype as Datatype];
      if (binary === undefined || width === undefined) bad(`${field}.parameters`, `binary data is accepted for FP32 inputs with Inference-Header-Content-Length`);
      if (!Number.isSafeInteger(binarySize) || binarySize !== count * width) bad(`${field}.parameters`, `binary_data_size must be ${count * width}`);
      if (r.data !== undefined) bad(`${field}.data`, `${field} has both data and binary_data_size`);
      if (binaryAt + binarySize > binary.length) bad('body', 'the binary tensor data is shorter than declared');
      const bytes = binary.slice(binaryAt, binaryAt + binarySize);
      binaryAt += binarySize;
      const dv = new DataView(bytes.buffer);
      const f = new Float32Array(count);
      for (let k = 0; k < count; k++) f[k] = dv.getFloat32(4 * k, true);
      data = f;
    } else {
      const flat: (number | string | boolean)[] = [];
      flatten(r.data, flat, maxElements, `${field}.data`);
      if (flat.length !== count) bad(`${field}.data`, `${field}.data has ${flat.length} elements, its shape ${count}`);
      data = flat;
    }
    inputs.push({
      name: r.name,
      datatype: r.datatype as Datatype,
      shape: r.shape as number[],
      data,
      ...(parameters !== undefined ? { parameters: parameters as Record<string, unknown> } : {}),
    });
  }
  if (binary !== undefined && binaryAt !== binary.length) bad('body', 'bytes after the declared binary tensor data');
  return { ...(typeof b.id === 'string' ? { id: b.id } : {}), inputs };
}

/**
 * Encode a request with the binary tensor data extension: FP32 inputs given as Float32Array go as raw little-endian
 * bytes after the JSON. Returns the body and the JSON header's length (the Inference-Header-Content-Length value).
 */
export function encodeBinaryRequest(request: InferenceRequest): { body: Uint8Array; headerLength: number } {
  const tensors: Uint8Array[] = [];
  const inputs = request.inputs.map((input) => {
    if (!(input.data instanceof Float32Array)) return input;
    const bytes = new Uint8Array(input.data.length * 4);
    const dv = new DataView(bytes.buffer);
    input.data.forEach((v, k) => dv.setFloat32(4 * k, v, true));
    tensors.push(bytes);
    const { data: _data, ...rest } = input;
    return { ...rest, parameters: { ...(input.parameters ?? {}), binary_data_size: bytes.length } };
  });
  const header = new TextEncoder().encode(JSON.stringify({ ...request, inputs }));
  const body = new Uint8Array(header.length + tensors.reduce((n, t) => n + t.length, 0));
  body.set(header, 0);
  let at = header.length;
  for (const t of tensors) {
    body.set(t, at);
    at += t.length;
  }
  return { body, headerLength: header.length };
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
