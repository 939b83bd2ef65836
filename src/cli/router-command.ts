// tsllm router: one OpenAI-compatible front for several workers (tsllm servers or any OpenAI-compatible
// server), routing each request by policy, with workers added and removed at run time at /workers.

import { Command, Option } from 'commander';
import { LOAD_FORMATS, loadModel, type LoadFormat } from '../model/load-model.js';
import { resolveHubModel } from '../model/hub/hub-download.js';
import { CACHE_AWARE_DEFAULTS, POLICY_NAMES, type PolicyName } from '../router/routing-policy.js';
import { createRouter, type Router } from '../router/router-server.js';
import { UsageError } from '../util/errors.js';
import { collect, parseFloatArg, parseIntArg, runCommand } from './run-command.js';

interface RouterFlags {
  worker: string[];
  pd?: boolean;
  prefill: string[];
  decode: string[];
  host: string;
  port: number;
  policy: PolicyName;
  cacheThreshold: number;
  balanceAbsThreshold: number;
  balanceRelThreshold: number;
  maxTreeSize: number;
  tokenizer?: string;
  kvEvents?: boolean;
  loadFormat: LoadFormat;
  healthCheckInterval: number;
  healthCheckTimeout: number;
  healthFailureThreshold: number;
  maxAttempts: number;
  apiKey?: string;
  logLevel: string;
}

export function routerCommand(): Command {
  return new Command('router')
    .description('route OpenAI-compatible requests over several workers (cache-aware by default), with /metrics and /workers')
    .option('--worker <url>', 'a worker\'s base URL, e.g. http://127.0.0.1:8001 (repeatable; more can be added at POST /workers)', collect, [] as string[])
    .option('--pd', 'prefill/decode disaggregation: prompts to --prefill workers (by --policy), then decoding to --decode workers (by load)')
    .option('--prefill <url>', 'with --pd: a prefill worker (tsllm serve --kv-transfer-role prefill; repeatable)', collect, [] as string[])
    .option('--decode <url>', 'with --pd: a decode worker (tsllm serve --kv-transfer-role decode; repeatable)', collect, [] as string[])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', parseIntArg('--port'), 8000)
    .addOption(new Option('--policy <name>', 'how to pick a worker').choices(POLICY_NAMES).default('cache-aware'))
    .option('--cache-threshold <f>', 'cache-aware: share of the prompt a worker\'s tree must match', parseFloatArg('--cache-threshold'), CACHE_AWARE_DEFAULTS.cacheThreshold)
    .option('--balance-abs-threshold <n>', 'cache-aware: route by load when max - min in-flight exceeds this...', parseIntArg('--balance-abs-threshold'), CACHE_AWARE_DEFAULTS.balanceAbsThreshold)
    .option('--balance-rel-threshold <f>', '...and max exceeds min times this', parseFloatArg('--balance-rel-threshold'), CACHE_AWARE_DEFAULTS.balanceRelThreshold)
    .option('--max-tree-size <n>', 'cache-aware: prompt elements remembered per worker', parseIntArg('--max-tree-size'), 2 ** 22)
    .option('--tokenizer <spec>', 'cache-aware: match text prompts as this tokenizer\'s tokens (default: as characters)')
    .option('--kv-events', 'cache-aware: route by what each tsllm worker\'s prefix cache holds, from its KV-cache events (workers started with --kv-events-config; needs --tokenizer for text and chat prompts)')
    .option('--load-format <format>', `how to read --tokenizer: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--health-check-interval <s>', 'seconds between health rounds', parseFloatArg('--health-check-interval'), 5)
    .option('--health-check-timeout <s>', 'seconds a health check may take', parseFloatArg('--health-check-timeout'), 2)
    .option('--health-failure-threshold <n>', 'failed rounds before a worker leaves the rotation', parseIntArg('--health-failure-threshold'), 2)
    .option('--max-attempts <n>', 'workers tried per request when one fails before answering', parseIntArg('--max-attempts'), 3)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" on /v1 and /workers, and pass it on (default: $TSLLM_API_KEY)')
    .addOption(new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action((flags: RouterFlags) => runCommand(() => route(flags)));
}

async function route(f: RouterFlags): Promise<void> {
  if (f.port < 0 || f.port > 65535) throw new UsageError('--port must be between 0 and 65535');
  if (!(f.cacheThreshold >= 0 && f.cacheThreshold <= 1)) throw new UsageError('--cache-threshold must be between 0 and 1');
  if (f.balanceAbsThreshold < 0 || f.balanceRelThreshold < 1) throw new UsageError('--balance-abs-threshold must be >= 0 and --balance-rel-threshold >= 1');
  if (f.healthCheckInterval <= 0 || f.healthCheckTimeout <= 0 || f.healthFailureThreshold < 1 || f.maxAttempts < 1) {
    throw new UsageError('health-check times must be positive, and --health-failure-threshold and --max-attempts at least 1');
  }
  if (f.pd && f.worker.length > 0) throw new UsageError('with --pd, give --prefill and --decode workers, not --worker');
  if (!f.pd && f.prefill.length + f.decode.length > 0) throw new UsageError('--prefill and --decode need --pd');
  if (f.kvEvents && f.policy !== 'cache-aware') throw new UsageError('--kv-events is for --policy cache-aware');
  const tokenizer = f.tokenizer ? (await loadModel(f.tokenizer, { loadFormat: f.loadFormat, resolveHubId: resolveHubModel })).tokenizer : null;
  if (f.tokenizer && !tokenizer) throw new UsageError(`${f.tokenizer} has no tokenizer`);
  const apiKey = f.apiKey ?? process.env['TSLLM_API_KEY'];
  const router = createRouter({
    workers: f.pd ? f.decode : f.worker, ...(f.pd ? { prefillWorkers: f.prefill } : {}), policy: f.policy, tokenizer, kvEvents: f.kvEvents === true,
    cacheAware: { cacheThreshold: f.cacheThreshold, balanceAbsThreshold: f.balanceAbsThreshold, balanceRelThreshold: f.balanceRelThreshold },
    maxTreeSize: f.maxTreeSize, healthIntervalMs: f.healthCheckInterval * 1000, healthTimeoutMs: f.healthCheckTimeout * 1000,
    failureThreshold: f.healthFailureThreshold, maxAttempts: f.maxAttempts, ...(apiKey ? { apiKey } : {}), logger: { level: f.logLevel },
  });
  await router.app.listen({ host: f.host, port: f.port });
  router.app.log.info(f.pd ? { policy: f.policy, prefill: f.prefill, decode: f.decode } : { policy: f.policy, workers: f.worker }, f.pd ? 'routing, prefill and decode disaggregated' : 'routing');
  stopOnSignals(router);
}

/** SIGTERM/SIGINT: stop accepting, let requests in flight finish, exit. */
export function stopOnSignals(router: Router, after: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    router.app.log.info({ signal }, 'draining requests in flight, then exiting');
    router.close().then(after).then(() => process.exit(0), (e: Error) => {
      router.app.log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
