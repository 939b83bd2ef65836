// tsllm serve: the OpenAI-compatible HTTP server. It listens at once, loads the model in the engine's
// worker (health answers 503 until then), and on SIGTERM or SIGINT stops accepting, lets requests in
// flight finish, and exits.

import { Command, Option } from 'commander';
import { AsyncEngine } from '../engine/async-engine.js';
import { UsageError } from '../util/errors.js';
import { BUILTIN_MODEL, LOAD_FORMATS, type LoadFormat } from '../model/load-model.js';
import { POOLING_TYPES, type PoolingType } from '../model/pooling-config.js';
import { createServer } from '../server/server.js';
import { TOOL_CALL_PARSER_NAMES } from '../server/tools/tool-call-parsers.js';
import { REASONING_PARSER_NAMES } from '../server/reasoning-parser.js';
import { addBackendOptions, type BackendFlags } from './backend-options.js';
import { addEngineOptions, engineOptionsFromFlags, type EngineFlags } from './engine-flags.js';
import { parseIntArg, runCommand } from './run-command.js';
import { MODEL_FLAG_DEFAULT, withBuiltinModel } from './builtin-model.js';
import { DP_RANK_ENV, reportToFront } from '../router/data-parallel-replicas.js';
import { offsetForRank, parseKVEventsConfigJson } from '../engine/kv-events/kv-events-config.js';
import { serveDataParallel } from './serve-data-parallel.js';
import { addKVTransferOptions, kvTransferFromFlags, type KVTransferFlags } from './kv-transfer-flags.js';

interface ServeFlags extends BackendFlags, EngineFlags, KVTransferFlags {
  model?: string;
  loadFormat: LoadFormat;
  tokenizer?: string;
  host: string;
  port: number;
  apiKey?: string;
  servedModelName?: string;
  maxWaiting: number;
  logLevel: string;
  webui: boolean;
  toolCallParser?: string;
  reasoningParser?: string;
  pooling?: PoolingType;
  dataParallelSize: number;
  kvEventsConfig?: string;
}

export function serveCommand(): Command {
  return addKVTransferOptions(addEngineOptions(addBackendOptions(new Command('serve'))))
    .description('serve a model over an OpenAI-compatible HTTP API, with Prometheus metrics at /metrics')
    .option('-m, --model <model>', 'model folder, .gguf file, llama2.c .bin, Hub id, or preset (with --load-format dummy) ' + MODEL_FLAG_DEFAULT)
    .option('--load-format <format>', `how to read --model: ${LOAD_FORMATS.join(', ')}`, 'auto')
    .option('--tokenizer <path>', 'tokenizer folder or file, instead of the model\'s own')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', parseIntArg('--port'), 8000)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" on /v1 routes (default: $TSLLM_API_KEY)')
    .option('--served-model-name <name>', 'the model name clients send (default: --model)')
    .option('--no-webui', 'do not serve the chat page at GET /')
    .addOption(new Option('--tool-call-parser <name>', 'how the model writes tool calls (default: detected from its chat template)').choices(TOOL_CALL_PARSER_NAMES))
    .addOption(new Option('--reasoning-parser <name>', 'how the model marks its thinking, or none (default: detected from its chat template)').choices([...REASONING_PARSER_NAMES, 'none']))
    .addOption(new Option('--pooling <type>', 'how /v1/embeddings pools the hidden states (default: as the model\'s sentence-transformers config says, else last)').choices(POOLING_TYPES))
    .option('--data-parallel-size <n>', 'engine processes, each with its own KV cache and threads (default: cores / n each), behind this server balancing by load (-dp n)', parseIntArg('--data-parallel-size'), 1)
    .option('--kv-events-config <json>', 'publish the prefix cache\'s changes over ZeroMQ for a router\'s exact view, vLLM\'s form: {"enable_kv_cache_events": true, "publisher": "zmq", "endpoint": "tcp://*:5557", "replay_endpoint": "tcp://*:5558", "topic": "kv-events"} (data-parallel replicas add their rank to the ports)')
    .option('--max-waiting <n>', 'sequences that may queue beyond --max-num-seqs before requests get 503', parseIntArg('--max-waiting'), 1024)
    .addOption(new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action((flags: ServeFlags) => runCommand(() => serve(withBuiltinModel(flags))));
}

async function serve(f: ServeFlags & { model: string }): Promise<void> {
  if (f.port < 0 || f.port > 65535) throw new UsageError('--port must be between 0 and 65535');
  if (f.dataParallelSize < 1) throw new UsageError('--data-parallel-size must be at least 1');
  if (f.dataParallelSize > 1) return serveDataParallel(f);
  const apiKey = f.apiKey ?? process.env['TSLLM_API_KEY'];
  const kvTransfer = kvTransferFromFlags(f);
  const rankEnv = process.env[DP_RANK_ENV];
  const rank = rankEnv === undefined ? null : Number(rankEnv);
  const parsedEvents = f.kvEventsConfig ? parseKVEventsConfigJson(f.kvEventsConfig) : null;
  const kvEvents = parsedEvents && rank !== null ? offsetForRank(parsedEvents, rank) : parsedEvents;
  const engine = AsyncEngine.start({
    ...engineOptionsFromFlags(f), ...(f.pooling ? { pooling: f.pooling } : {}), ...(kvTransfer ? { kvTransfer } : {}),
    ...(kvEvents ? { kvEvents } : {}), ...(rank !== null ? { dataParallelRank: rank } : {}),
  });
  const server = createServer(engine, {
    servedModelName: f.servedModelName ?? (f.model === BUILTIN_MODEL ? 'stories260K' : f.model),
    ...(apiKey ? { apiKey } : {}),
    maxWaiting: f.maxWaiting,
    webui: f.webui,
    ...(f.toolCallParser ? { toolCallParser: f.toolCallParser } : {}),
    ...(f.reasoningParser ? { reasoningParser: f.reasoningParser } : {}),
    logger: { level: f.logLevel },
  });
  const log = server.app.log;
  await server.app.listen({ host: f.host, port: f.port });
  reportToFront((server.app.server.address() as { port: number }).port);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining requests in flight, then exiting');
    server.close().then(() => process.exit(0), (e: Error) => {
      log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    const ctx = await server.ready;
    // A failed rank stops the engine for good: requests in flight got their 503s, /health says so; a
    // moment for those answers to leave, then exit non-zero so a supervisor restarts the job.
    ctx.engine.onFailed = (e) => {
      log.fatal({ err: e }, 'a rank of the parallel job failed: exiting');
      setTimeout(() => void ctx.engine.close().finally(() => process.exit(1)), 500);
    };
    const i = ctx.engine.info;
    log.info({ model: i.source, backend: i.backend, loadMs: Math.round(i.loadMs), kvCacheDtype: i.config.kvCacheDtype, kvCacheBlocks: i.config.numBlocks, blockSize: i.config.blockSize,
      kvCacheTokens: i.config.numBlocks * i.config.blockSize, kvCacheBytes: i.config.kvCacheBytes, maxModelLen: i.maxSequenceTokens }, 'engine ready');
    if (i.kvEvents) log.info(i.kvEvents, 'publishing KV-cache events');
    if (i.kvTransfer) log.info({ role: i.kvTransfer.role, engineId: i.kvTransfer.engineId, kvBlockPort: i.kvTransfer.port }, 'prefill/decode disaggregation');
    log.info({ toolCallParser: ctx.toolParser?.name ?? null, reasoningParser: ctx.reasoningParser?.name ?? null, pooling: i.pooling }, 'chat parsers and embedding pooling');
    if (!ctx.tokenizer?.chatTemplate) log.warn('the model has no chat template: chat requests continue their messages\' text');
    if (f.webui) log.info(`chat page at http://${f.host.includes(':') ? `[${f.host}]` : f.host}:${(server.app.server.address() as { port: number }).port}/`);
  } catch (e) {
    log.fatal({ err: e }, 'the model failed to load');
    await server.close();
    throw e;
  }
}
