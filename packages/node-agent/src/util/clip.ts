/**
 * Client-provided strings (device IDs kubelet — or anything that can reach the plugin socket — sends) are echoed into
 * log lines and gRPC status details only through `clip`: a bounded prefix plus the real size, so a 4 MB ID costs a
 * 100-byte log line, not a 4 MB one.
 */

/** How many characters of a client string are echoed. */
export const CLIP_CHARS = 64;

/** `value` itself when at most `max` characters, else its first `max` characters + `…(N bytes)` (N: UTF-8 size). */
export function clip(value: string, max = CLIP_CHARS): string {
  if (value.length <= max) return value;
  // Never cut a surrogate pair in half: the result stays valid UTF-16.
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${value.slice(0, end)}…(${Buffer.byteLength(value, 'utf8')} bytes)`;
}

/** `clip` then JSON-quoted (control characters escaped), for IDs shown in quotes. */
export function quoteClipped(value: string, max = CLIP_CHARS): string {
  return JSON.stringify(clip(value, max));
}
