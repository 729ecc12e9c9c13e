/**
 * The slow-client attack of bench/quote-helper, in its own process (so its work does not slow the legitimate clients'
 * process): `node slow-clients.js SOCKET COUNT INTERVAL_MS` keeps COUNT connections open to SOCKET, each announcing a
 * 100-byte AESM frame and then sending one byte every INTERVAL_MS; a connection the server closes is opened again at
 * once. Prints `ready` once COUNT are connected; on SIGTERM prints `opened=N` (connections opened in all) and exits.
 */
import { connect, type Socket } from 'node:net';

const [path, countArg, intervalArg] = process.argv.slice(2);
if (path === undefined) throw new Error('usage: slow-clients.js SOCKET COUNT INTERVAL_MS');
const count = Number(countArg ?? 256);
const intervalMs = Number(intervalArg ?? 2000);
let opened = 0;
let connected = 0;
let announced = false;
let stopping = false;
const sockets = new Set<Socket>();

function open(): void {
  if (stopping) return;
  const s = connect(path!);
  opened++;
  sockets.add(s);
  let timer: NodeJS.Timeout | undefined;
  s.on('error', () => {});
  s.on('connect', () => {
    connected++;
    if (!announced && connected >= count) {
      announced = true;
      process.stdout.write('ready\n');
    }
    const bytes = [100, 0, 0, 0];
    s.write(Uint8Array.of(bytes.shift()!));
    timer = setInterval(() => {
      if (!s.destroyed) s.write(Uint8Array.of(bytes.shift() ?? 0x2a));
    }, intervalMs);
  });
  s.on('close', () => {
    clearInterval(timer);
    sockets.delete(s);
    setImmediate(open);
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  for (const s of sockets) s.destroy();
  process.stdout.write(`opened=${opened}\n`, () => process.exit(0));
});
for (let i = 0; i < count; i++) open();
