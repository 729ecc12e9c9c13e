export { buildProgram, runCli, QUOTE_HELPER_METRICS_PORT, type BuildProgramOptions } from './program.js';
export { CliError, EXIT_FAILED, EXIT_USAGE, cliFailureOf, exitCodeFor, hintFor, type CliErrorCode, type CliFailure } from './errors.js';
export { inspectQuote } from './commands/quote-inspect.js';
export { summary } from './commands/verify.js';
