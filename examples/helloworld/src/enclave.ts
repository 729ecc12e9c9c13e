/**
 * The trusted half of the hello-world enclave-aware container. It runs inside the enclave (the sim backend's
 * permission-restricted process, or Node.js inside Gramine-SGX): it greets, binds the greeting into a quote's
 * REPORTDATA, and asks for the quote — out of process through the AESM socket when SGX_AESM_ADDR is set.
 */
import { defineEnclave } from '@cloister/enclave/runtime';

export default defineEnclave({
  ecalls: {
    async greet(args: { name: string }, ctx) {
      const greeting = `Hello, ${args.name}, from inside an enclave!`;
      // REPORTDATA[0..32] = SHA-256(greeting): whoever verifies the quote knows this enclave said exactly this.
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(greeting)));
      const reportData = new Uint8Array(64);
      reportData.set(digest);
      const quote = await ctx.getQuote(reportData);
      const self = await ctx.identity();
      ctx.log.info('greeted', { who: args.name });
      return { greeting, quote, mrenclave: self.mrenclave };
    },
  },
});
