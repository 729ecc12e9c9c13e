/** Tests only: hostile and plain HTTP clients over real loopback sockets, shared by the slow-client tests. */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';

/** A plain GET on a fresh connection; resolves with the status code. */
export function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Slowloris {
  stop(): void;
  /** How many connections were opened in all (closed ones are reopened). */
  readonly opened: () => number;
}

/**
 * `count` connections that send `head` (a request line and a header) and then one header byte every `intervalMs`,
 * each reopened as soon as the server closes it, until `stop()`.
 */
export function slowloris(port: number, count: number, intervalMs: number, head = 'GET /healthz HTTP/1.1\r\nHost: x\r\n'): Slowloris {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = connect({ host: '127.0.0.1', port });
    opened++;
    sockets.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => {});
    s.on('connect', () => {
      s.write(head);
      timer = setInterval(() => s.write('X'), intervalMs);
    });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
      setImmediate(open);
    });
  };
  for (let i = 0; i < count; i++) open();
  return {
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}
