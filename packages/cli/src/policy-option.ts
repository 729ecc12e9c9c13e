/**
 * `--policy JSON|FILE` (with `--allow-debug`, `--allow-simulated`), read the same way by `cloister verify` and
 * `cloister ratls verify`: inline JSON when the argument starts with `{`, else a file holding it; validated by
 * @cloister/policy (PolicyError POLICY_INVALID, a usage error, naming the key). The flags are opt-ins added to the
 * policy; without --policy they are a usage error (USAGE, exit 2), since there is no policy to loosen.
 */
import { parsePolicy, parsePolicyJson, policyToJson, type Policy } from '@cloister/policy';
import { CliError } from './errors.js';
import { readTextInput } from './io.js';

export interface PolicyFlags {
  readonly policy?: string;
  readonly allowDebug?: boolean;
  readonly allowSimulated?: boolean;
}

export function policyOption(opts: PolicyFlags): Policy | undefined {
  const optIns = {
    ...(opts.allowDebug === true ? { allowDebug: true } : {}),
    ...(opts.allowSimulated === true ? { allowSimulated: true } : {}),
  };
  if (opts.policy === undefined) {
    if (Object.keys(optIns).length > 0) {
      throw new CliError('USAGE', '--allow-debug and --allow-simulated loosen a policy: give --policy JSON|FILE with them');
    }
    return undefined;
  }
  const text = opts.policy.trimStart().startsWith('{') ? opts.policy : readTextInput(opts.policy, 'policy');
  const policy = parsePolicyJson(text);
  return Object.keys(optIns).length > 0 ? parsePolicy({ ...policyToJson(policy), ...optIns }) : policy;
}
