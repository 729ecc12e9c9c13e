export { buildProgram } from './program.js';
export { inspectQuote } from './commands/quote-inspect.js';
export { summary } from './commands/verify.js';
