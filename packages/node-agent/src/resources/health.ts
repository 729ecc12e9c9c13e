/**
 * Health of the device nodes a resource hands out. A resource is healthy while every node it depends on exists (and,
 * on hardware, is a character device); when one disappears all its devices turn Unhealthy, so kubelet stops
 * scheduling onto them (allocatable drops) until the node is back.
 *
 * Detection is polling with `fs.stat` (authoritative) plus `fs.watch` on the parent directories as a fast path where
 * the platform supports it. Caveat: inside a pod the nodes are hostPath bind mounts; a bind mount keeps its inode
 * alive after the host removes the node, so removals are seen reliably only when the agent sees the host's /dev.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface HealthSource {
  healthy(): boolean;
  /** Why the source is unhealthy (undefined while healthy). */
  reason(): string | undefined;
  /** Fires with the new state on every flip; returns an unsubscribe function. */
  onChange(listener: (healthy: boolean) => void): () => void;
  stop(): void;
}

/** How resources obtain the health of a set of device node paths (tests pass manual sources). */
export type HealthSourceFactory = (
  paths: readonly string[],
  options: { readonly requireCharDevice: boolean },
) => HealthSource;

class Listeners {
  readonly #set = new Set<(healthy: boolean) => void>();

  add(listener: (healthy: boolean) => void): () => void {
    this.#set.add(listener);
    return () => {
      this.#set.delete(listener);
    };
  }

  emit(healthy: boolean): void {
    for (const l of [...this.#set]) {
      try {
        l(healthy);
      } catch {
        // One failing listener must neither stop the others nor the watcher that calls emit.
      }
    }
  }

  clear(): void {
    this.#set.clear();
  }
}

export interface ManualHealth extends HealthSource {
  set(healthy: boolean, reason?: string): void;
}

/** A health source flipped by hand: for tests, and for resources with nothing to watch. */
export function manualHealth(initial = true): ManualHealth {
  const listeners = new Listeners();
  let state = initial;
  let why: string | undefined = initial ? undefined : 'marked unhealthy';
  return {
    healthy: () => state,
    reason: () => why,
    onChange: (l) => listeners.add(l),
    set(healthy, reason) {
      why = healthy ? undefined : (reason ?? 'marked unhealthy');
      if (healthy === state) return;
      state = healthy;
      listeners.emit(state);
    },
    stop: () => listeners.clear(),
  };
}

export interface DeviceNodeWatchOptions {
  readonly paths: readonly string[];
  /** True on hardware: a regular file in place of a device node is unhealthy. False in simulation. */
  readonly requireCharDevice: boolean;
  /** Poll period (default 5000 ms). */
  readonly intervalMs?: number;
  /** Also fs.watch the parent directories (default true). */
  readonly watchParents?: boolean;
}

export interface DeviceNodeWatcher extends HealthSource {
  /** Re-check now; resolves with the state after the check. */
  check(): Promise<boolean>;
}

interface NodeStat {
  isCharacterDevice(): boolean;
  isFile(): boolean;
}

/** Why `path` is not usable, or undefined when it is. */
function problemOf(path: string, st: NodeStat | undefined, requireChar: boolean): string | undefined {
  if (st === undefined) return `${path} disappeared`;
  if (requireChar && !st.isCharacterDevice()) return `${path} is no longer a character device`;
  if (!requireChar && !st.isCharacterDevice() && !st.isFile()) return `${path} is neither a device node nor a file`;
  return undefined;
}

function statNow(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

async function statLater(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

export function watchDeviceNodes(options: DeviceNodeWatchOptions): DeviceNodeWatcher {
  const { paths, requireCharDevice } = options;
  const intervalMs = options.intervalMs ?? 5000;
  if (!Number.isFinite(intervalMs) || intervalMs < 10) {
    throw new RangeError(`health poll interval too small: ${intervalMs} ms`);
  }
  const listeners = new Listeners();
  const firstProblem = (states: readonly (string | undefined)[]): string | undefined =>
    states.find((s) => s !== undefined);
  // The initial state is known synchronously, so a resource built right after detection reports the truth at once.
  let why = firstProblem(paths.map((p) => problemOf(p, statNow(p), requireCharDevice)));
  let stopped = false;
  let inFlight: Promise<boolean> | undefined;

  const run = async (): Promise<boolean> => {
    const states = await Promise.all(paths.map(async (p) => problemOf(p, await statLater(p), requireCharDevice)));
    const next = firstProblem(states);
    const was = why === undefined;
    why = next;
    if (!stopped && was !== (next === undefined)) listeners.emit(next === undefined);
    return next === undefined;
  };
  const check = (): Promise<boolean> => {
    // Coalesce: a burst of fs.watch events and the poll share one round of stats.
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  const watchers: FSWatcher[] = [];
  if (options.watchParents ?? true) {
    for (const dir of new Set(paths.map((p) => dirname(p)))) {
      try {
        const w = watch(dir, { persistent: false }, () => void check());
        // Watch errors (dir removed, inotify limits) leave polling in charge.
        w.on('error', () => w.close());
        watchers.push(w);
      } catch {
        // No fs.watch here (missing dir, unsupported fs): polling alone.
      }
    }
  }

  return {
    healthy: () => why === undefined,
    reason: () => why,
    onChange: (l) => listeners.add(l),
    check,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      for (const w of watchers) w.close();
      listeners.clear();
    },
  };
}
