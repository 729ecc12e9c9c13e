/**
 * The OS sandbox around a sim enclave process (docs/security.md "Enclave sim backend"). The host starts the
 * enclave's `node` through a chain of util-linux tools, each applying one rule and exec'ing the next:
 *
 *   prlimit --data=<cap>            RLIMIT_DATA: a kernel cap on private writable memory (heap, ArrayBuffers, malloc)
 *   setpriv --pdeathsig=KILL        the chain dies with the host (PR_SET_PDEATHSIG, kept across exec)
 *   unshare --pid --net --fork --kill-child    (root) a new PID namespace — the enclave sees no other process —
 *                                   and a new network namespace with only a down loopback: no sockets out
 *   setpriv --reuid --regid --clear-groups --no-new-privs --pdeathsig=KILL
 *           --inh-caps/--ambient-caps/--bounding-set=-all,+dac_read_search
 *                                   (root) an unprivileged uid (default 65534) without CAP_KILL or any other
 *                                   capability but CAP_DAC_READ_SEARCH, so that it reads its declared files wherever
 *                                   they are (which files: Node's permission model decides), and signals nothing
 *                                   the host runs
 *   node --experimental-permission … enclave-main.js
 *
 * Without root, where the kernel allows unprivileged user namespaces (probed once: `unshare --user` actually run),
 * the namespaces come from a user namespace instead:
 *   unshare --user --map-user=65534 --map-group=65534 --pid --net --fork --kill-child=SIGKILL
 * (the enclave is uid 65534 inside its own user namespace, with no capability anywhere; outside it is the host's
 * uid, but it sees no process outside its PID namespace and has no network).
 *
 * Always, whatever the privilege: the process is spawned detached (its own session and process group, so a
 * group signal from inside reaches only itself), and enclave-main locks `process.kill`/`_kill` before any enclave
 * code loads. Without root and without user namespaces (or without unshare), there is no PID or network namespace
 * and no uid change: the host still survives (locked kill, own process group, parent-death signal, bounded
 * channel), but the enclave can open sockets itself, and a bypass of the lock could signal processes of the same
 * uid. Without setpriv, an enclave that spins in JavaScript outlives a host killed by SIGKILL (a host that exits
 * normally or on a signal it handles still kills it). `sandbox: 'unprivileged'` forces the chain without namespaces.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type SandboxMode = 'auto' | 'unprivileged';

/** What holds for one enclave process (reported by the handle and `cloister enclave run`). */
export interface SimIsolation {
  /** Own session and process group (always). */
  readonly processGroup: true;
  /** process.kill / process._kill locked before enclave code loads (always). */
  readonly killLocked: true;
  /** The uid the enclave runs as, or null when it is the host's (outside a user namespace). */
  readonly uid: number | null;
  /** The namespaces come from an unprivileged user namespace (the host is not root). */
  readonly userNamespace: boolean;
  readonly pidNamespace: boolean;
  /** True: the enclave has no network of its own (ctx.connect is the only way out). False: it can open sockets. */
  readonly networkNamespace: boolean;
  /** The enclave is killed by the kernel when the host dies (PR_SET_PDEATHSIG through setpriv). */
  readonly parentDeathSignal: boolean;
  /** RLIMIT_DATA cap in MiB, or null without prlimit. */
  readonly kernelDataLimitMiB: number | null;
}

export interface SandboxOptions {
  readonly mode: SandboxMode;
  /** uid/gid to run as when the host is root (default 65534, "nobody"). */
  readonly uid?: number;
  readonly gid?: number;
  /** RLIMIT_DATA in MiB. */
  readonly dataLimitMiB: number;
}

export interface SandboxLaunch {
  readonly command: string;
  readonly args: readonly string[];
  readonly isolation: SimIsolation;
}

const tools = new Map<string, string | null>();

/** The absolute path of a util-linux tool in the usual system directories (not the caller's PATH), or null. */
export function findTool(name: 'setpriv' | 'unshare' | 'prlimit'): string | null {
  const cached = tools.get(name);
  if (cached !== undefined) return cached;
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/'))];
  let found: string | null = null;
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      found = join(d, name);
      break;
    } catch {
      // next
    }
  }
  tools.set(name, found);
  return found;
}

const helpTexts = new Map<string, string>();
/** True if `tool --help` mentions every option in `options` (util-linux grew them over time: pdeathsig in 2.33). */
function supports(tool: string, options: readonly string[]): boolean {
  let text = helpTexts.get(tool);
  if (text === undefined) {
    try {
      text = execFileSync(tool, ['--help'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      text = '';
    }
    helpTexts.set(tool, text);
  }
  return options.every((o) => (text as string).includes(o));
}

/** Process groups of live enclave processes (both backends): killed when the host process exits. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Kill process group `pid` when this process exits (any exit that runs 'exit' listeners) until untracked. */
export function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of liveGroups) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function untrackGroup(pid: number): void {
  liveGroups.delete(pid);
}

let usernsWorks: boolean | undefined;
const USERNS_ARGS = ['--user', '--map-user=65534', '--map-group=65534', '--pid', '--net', '--fork', '--kill-child=SIGKILL'] as const;
/** True if this process can create a user + PID + network namespace (run once, cached). */
function unprivilegedNamespaces(unshare: string): boolean {
  if (usernsWorks === undefined) {
    try {
      execFileSync(unshare, [...USERNS_ARGS, '--', unshare, '--version'], { timeout: 5000, stdio: 'ignore' });
      usernsWorks = true;
    } catch {
      usernsWorks = false;
    }
  }
  return usernsWorks;
}

/** setpriv when it can set a parent-death signal, else null (for launchers other than the sim's chain). */
export function parentDeathTool(): string | null {
  const setpriv = findTool('setpriv');
  return setpriv !== null && supports(setpriv, ['--pdeathsig']) ? setpriv : null;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The command that starts `node nodeArgs…` inside the sandbox, and what it guarantees. */
export function sandboxLaunch(nodeArgs: readonly string[], options: SandboxOptions): SandboxLaunch {
  const prlimitPath = findTool('prlimit');
  const setprivPath = findTool('setpriv');
  const unsharePath = findTool('unshare');
  const prlimit = prlimitPath !== null && supports(prlimitPath, ['--data']) ? prlimitPath : null;
  const setpriv = setprivPath !== null && supports(setprivPath, ['--pdeathsig', '--ambient-caps', '--reuid']) ? setprivPath : null;
  const unshare = unsharePath !== null && supports(unsharePath, ['--kill-child', '--pid', '--net']) ? unsharePath : null;
  const privileged = options.mode === 'auto' && isRoot() && unshare !== null && setpriv !== null && process.platform === 'linux';
  const userns =
    !privileged &&
    options.mode === 'auto' &&
    process.platform === 'linux' &&
    unshare !== null &&
    supports(unshare, ['--map-user', '--map-group']) &&
    unprivilegedNamespaces(unshare);
  const uid = options.uid ?? 65534;
  const gid = options.gid ?? 65534;
  const chain: string[] = [];
  if (prlimit !== null) chain.push(prlimit, `--data=${options.dataLimitMiB * 1024 * 1024}`, '--');
  if (setpriv !== null) chain.push(setpriv, '--pdeathsig=KILL', '--');
  if (privileged) {
    chain.push(unshare as string, '--pid', '--net', '--fork', '--kill-child=SIGKILL', '--');
    chain.push(
      setpriv as string,
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      '--inh-caps=-all,+dac_read_search',
      '--ambient-caps=-all,+dac_read_search',
      '--bounding-set=-all,+dac_read_search',
      '--no-new-privs',
      '--pdeathsig=KILL',
      '--',
    );
  }
  if (userns) chain.push(unshare as string, ...USERNS_ARGS, '--');
  chain.push(process.execPath, ...nodeArgs);
  const [command, ...args] = chain as [string, ...string[]];
  return {
    command,
    args,
    isolation: Object.freeze({
      processGroup: true,
      killLocked: true,
      uid: privileged ? uid : null,
      userNamespace: userns,
      pidNamespace: privileged || userns,
      networkNamespace: privileged || userns,
      parentDeathSignal: setpriv !== null,
      kernelDataLimitMiB: prlimit !== null ? options.dataLimitMiB : null,
    }),
  };
}
