/**
 * Simulation mode: a node without SGX hardware advertises configured EPC and "device nodes" that are plain regular
 * files named `*.simulated` under the agent's state directory. They are never character devices, so nothing can
 * mistake them for SGX; DeviceSpecs point at them only in this mode (the container runtime bind-mounts them, so pods
 * see a file at /dev/sgx_enclave and the Cloister simulator, not real enclaves, runs behind it).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError } from '../errors.js';
import type { SgxAvailable, SgxDeviceNodes } from './hardware.js';

const MIB = 1024 * 1024;

export interface SimulatedSgxOptions {
  /** Directory the agent owns; the files go to `<stateDir>/dev/` unless `devices` names other paths. */
  readonly stateDir: string;
  /** EPC to advertise, in MiB (whole, >= 1). */
  readonly epcMiB: number;
  /** Override the simulated file paths. */
  readonly devices?: { readonly enclave?: string; readonly provision?: string };
  /** Offer the provision file too (default true). */
  readonly provision?: boolean;
}

export interface SimulatedSgx extends SgxAvailable {
  readonly simulated: true;
  readonly epcSource: 'simulated';
}

const MARKER =
  'Simulated SGX device created by the Cloister node agent (simulation mode).\n' +
  'This is a regular file, not a character device: no enclave can be created through it.\n';

/** Creates the simulated device files if needed (a file already there is reused; a device node is refused). */
async function ensureSimulatedFile(path: string): Promise<void> {
  try {
    const st = await stat(path);
    if (st.isFile()) return;
    throw new AgentError(
      'CONFIG_INVALID',
      `simulated device path ${path} exists and is not a regular file` +
        (st.isCharacterDevice() ? ' (it is a real device node: simulation must not point at hardware)' : ''),
    );
  } catch (e) {
    if (AgentError.is(e)) throw e;
    if ((e as { code?: unknown }).code !== 'ENOENT') {
      throw new AgentError('CONFIG_INVALID', `cannot use simulated device path ${path}`, { cause: e });
    }
  }
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, MARKER, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'EEXIST') return;
    throw new AgentError('CONFIG_INVALID', `cannot create simulated device file ${path}`, { cause: e });
  }
}

export async function prepareSimulatedSgx(options: SimulatedSgxOptions): Promise<SimulatedSgx> {
  const { epcMiB } = options;
  if (!Number.isSafeInteger(epcMiB) || epcMiB < 1 || epcMiB * MIB > Number.MAX_SAFE_INTEGER) {
    throw new AgentError('CONFIG_INVALID', `simulated EPC must be a whole number of MiB >= 1, got ${epcMiB}`);
  }
  const devDir = join(options.stateDir, 'dev');
  const enclave = options.devices?.enclave ?? join(devDir, 'sgx_enclave.simulated');
  const withProvision = options.provision ?? true;
  const provision = options.devices?.provision ?? join(devDir, 'sgx_provision.simulated');
  await ensureSimulatedFile(enclave);
  if (withProvision) await ensureSimulatedFile(provision);
  const devices: SgxDeviceNodes = withProvision ? { enclave, provision } : { enclave };
  const epcBytes = epcMiB * MIB;
  return {
    sgx: true,
    simulated: true,
    epcBytes,
    epcSource: 'simulated',
    perNuma: [{ node: 0, bytes: epcBytes }],
    flags: { sgx: true, sgxLc: true },
    devices,
    notes: [`simulation mode: ${epcMiB} MiB of simulated EPC, device files ${Object.values(devices).join(', ')}`],
  };
}
