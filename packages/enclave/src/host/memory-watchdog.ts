/**
 * The host-side EPC-budget watchdog of a sim enclave (Linux /proc; proc(5) /proc/[pid]/statm).
 *
 * The budget is `heapSizeMiB` of private writable memory ABOVE the process's baseline: the `data` field of
 * /proc/<pid>/statm (VmData + VmStk: the heap, ArrayBuffers and external memory, malloc arenas, thread stacks —
 * what RLIMIT_DATA counts) measured when the enclave runtime says hello, i.e. after Node started and before any
 * enclave code exists. The watchdog polls it every `intervalMs` (default 20 ms) from the host — so an enclave
 * spinning in JavaScript cannot delay it — and reports once when the budget is exceeded; the host then kills the
 * enclave (ENCLAVE_OUT_OF_MEMORY). A single large allocation counts as soon as it is mapped, before it is touched;
 * between two polls the enclave can touch at most what the CPU writes in `intervalMs`, and RLIMIT_DATA (sandbox.ts)
 * caps even that.
 */
import { readFileSync, readdirSync } from 'node:fs';

const PAGE_BYTES = 4096;

/** Private writable memory (bytes) of `pid` from /proc/<pid>/statm, or undefined if it is gone / not Linux. */
export function dataBytes(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    const pages = Number(fields[5]);
    return Number.isFinite(pages) ? pages * PAGE_BYTES : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The enclave's node process under the sandbox chain started as `pid`: the chain exec's in place except for
 * unshare's fork, so it is the deepest first child (/proc/<pid>/task/<pid>/children).
 */
export function deepestChild(pid: number): number {
  let current = pid;
  for (let depth = 0; depth < 4; depth++) {
    let text: string;
    try {
      text = readFileSync(`/proc/${current}/task/${current}/children`, 'latin1').trim();
    } catch {
      // No CONFIG_PROC_CHILDREN: fall back to scanning the direct children of `current` once.
      const found = scanChild(current);
      if (found === undefined) return current;
      current = found;
      continue;
    }
    const first = Number(text.split(' ')[0]);
    if (text.length === 0 || !Number.isSafeInteger(first)) return current;
    current = first;
  }
  return current;
}

function scanChild(parent: number): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent) return Number(entry);
      } catch {
        // gone
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

export interface MemoryWatchdog {
  /** The baseline in bytes (undefined without /proc). */
  readonly baselineBytes: number | undefined;
  stop(): void;
}

/** Watch `pid`; `onExceeded(usedAboveBaselineBytes)` once when over `budgetBytes`. */
export function watchMemory(pid: number, budgetBytes: number, onExceeded: (used: number) => void, intervalMs = 20): MemoryWatchdog {
  const baseline = dataBytes(pid);
  if (baseline === undefined) return { baselineBytes: undefined, stop: () => undefined };
  let done = false;
  const timer = setInterval(() => {
    const now = dataBytes(pid);
    if (now === undefined) {
      stop();
      return;
    }
    if (now - baseline > budgetBytes) {
      stop();
      onExceeded(now - baseline);
    }
  }, intervalMs);
  timer.unref();
  function stop(): void {
    if (done) return;
    done = true;
    clearInterval(timer);
  }
  return { baselineBytes: baseline, stop };
}
