/**
 * The load generator's HTTPS client: one keep-alive TLS connection per simulated client, each request a pre-built
 * HTTP/1.1 message (RFC 9112 §3, §6.2: request line, Host, Content-Type, Content-Length, body), each answer read to
 * its Content-Length. It does what node:https's Agent does for this load at a third of the CPU: the generator shares
 * the 2 cores with the servers, so its own cost would otherwise count against the service.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface Answer {
  readonly status: number;
  readonly ms: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export class KeepAliveClient {
  readonly #host: string;
  readonly #port: number;
  #socket: TLSSocket | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #pending: { resolve: (a: Answer) => void; t0: number } | undefined;
  #need = -1;
  #status = 0;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** The bytes of a POST with a JSON body. */
  static post(host: string, port: number, path: string, body: Uint8Array): Buffer {
    const head = `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.byteLength}\r\nConnection: keep-alive\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  }

  #open(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.#host, port: this.#port, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
      s.on('data', (d: Buffer) => this.#onData(d));
      s.on('close', () => {
        this.#socket = undefined;
        this.#finish(0);
      });
      s.on('error', () => undefined);
    });
  }

  #finish(status: number): void {
    const p = this.#pending;
    this.#pending = undefined;
    this.#buf = Buffer.alloc(0);
    this.#need = -1;
    p?.resolve({ status, ms: performance.now() - p.t0 });
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    if (this.#need < 0) {
      const end = this.#buf.indexOf(HEAD_END);
      if (end < 0) return;
      const head = this.#buf.subarray(0, end).toString('latin1');
      this.#status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      this.#need = end + 4 + (m === null ? 0 : Number(m[1]));
    }
    if (this.#buf.length >= this.#need) this.#finish(this.#status);
  }

  async send(request: Buffer): Promise<Answer> {
    const t0 = performance.now();
    try {
      this.#socket ??= await this.#open();
    } catch {
      return { status: 0, ms: performance.now() - t0 };
    }
    return new Promise((resolve) => {
      this.#pending = { resolve, t0 };
      this.#socket!.write(request);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}
