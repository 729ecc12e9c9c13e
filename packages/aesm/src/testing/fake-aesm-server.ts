/**
 * A fake AESM service for client tests: a unix-socket server that reads one framed aesm.message.Request per
 * connection with its own frame reader (independent of ../framing.ts), records the exact bytes it received,
 * decodes them with the generated schemas and answers what the test's handler says.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestSchema, ResponseSchema, type Request, type Response } from '../../gen/aesm/message/messages_pb.js';

export type FakeAnswer =
  /** Framed and sent, then the server closes (as aesmd does). */
  | Response
  /** Sent as is (no framing added), then the server closes. */
  | { readonly raw: Uint8Array }
  /** Read the request, never answer, keep the connection open. */
  | 'hang'
  /** Close without answering (what aesmd does with a request it cannot parse). */
  | 'close';

export interface RecordedRequest {
  /** Every byte the client sent on the connection: the 4-byte length prefix and the payload. */
  readonly bytes: Uint8Array;
  readonly request: Request;
}

export type FakeHandler = (request: Request, index: number) => FakeAnswer;

export function response(init: MessageInitShape<typeof ResponseSchema>): Response {
  return create(ResponseSchema, init);
}

export class FakeAesmServer {
  readonly dir: string;
  readonly socketPath: string;
  readonly requests: RecordedRequest[] = [];
  connections = 0;
  handler: FakeHandler;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #ownsDir: boolean;

  private constructor(dir: string, ownsDir: boolean, handler: FakeHandler) {
    this.dir = dir;
    this.#ownsDir = ownsDir;
    this.socketPath = join(dir, 'aesm.socket');
    this.handler = handler;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  static async start(handler: FakeHandler, dir?: string): Promise<FakeAesmServer> {
    const ownsDir = dir === undefined;
    const server = new FakeAesmServer(dir ?? mkdtempSync(join(tmpdir(), 'cloister-aesm-')), ownsDir, handler);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(server.socketPath, () => resolve());
    });
    return server;
  }

  /** Stops listening (Node unlinks the socket file) and drops open connections; removes the temp dir if ours. */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#ownsDir && options.keepDir !== true) rmSync(this.dir, { recursive: true, force: true });
  }

  #serve(socket: Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let done = false;
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const size = buffered.readUInt32LE(0);
      if (buffered.length < 4 + size) return;
      done = true;
      const bytes = new Uint8Array(buffered.subarray(0, 4 + size));
      let request: Request;
      try {
        request = fromBinary(RequestSchema, bytes.subarray(4));
      } catch {
        socket.destroy();
        return;
      }
      const index = this.requests.length;
      this.requests.push({ bytes, request });
      const answer = this.handler(request, index);
      if (answer === 'hang') return;
      if (answer === 'close') {
        socket.end();
        return;
      }
      if ('raw' in answer) {
        socket.end(answer.raw);
        return;
      }
      const payload = toBinary(ResponseSchema, answer);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(payload.length, 0);
      socket.end(Buffer.concat([head, payload]));
    });
  }
}
