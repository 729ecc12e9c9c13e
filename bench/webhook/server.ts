/**
 * The webhook under test, in its own process (bench/webhook/index.ts spawns it): HTTPS on a loopback port with the
 * certificate files given, default admission config, logs off. Prints `port=N` once listening, `cpu_us=N` (its CPU
 * time so far) on SIGUSR2; stops on SIGTERM.
 */
import { createLogger } from '@cloister/service-kit';
import { DEFAULT_CONFIG, startWebhook } from '@cloister/webhook';

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) throw new Error('usage: server.js CERT KEY');
const handle = await startWebhook({
  config: DEFAULT_CONFIG,
  logger: createLogger({ component: 'cloister-webhook', level: 'silent' }),
  port: 0,
  tls: { certFile, keyFile, watch: false },
});
process.stdout.write(`port=${handle.port}\n`);
// The bench asks for the CPU time used so far at the start and end of its measured window.
process.on('SIGUSR2', () => {
  const u = process.cpuUsage();
  process.stdout.write(`cpu_us=${u.user + u.system}\n`);
});
process.once('SIGTERM', () => {
  void handle.close().then(() => process.exit(0));
});
