// Prefill/decode disaggregation settings: which side this engine plays, where its KV blocks are served,
// how long they are kept for the decode side, and what the decode side does when it cannot get them.
// Read from `--kv-transfer-role` and friends, or from vLLM's `--kv-transfer-config` JSON.

import { z } from 'zod';
import { UsageError } from '../../util/errors.js';
import { parseJsonOption } from '../../util/json-option.js';

export const KV_TRANSFER_ROLES = ['prefill', 'decode', 'both'] as const;
export type KVTransferRole = (typeof KV_TRANSFER_ROLES)[number];
export const KV_LOAD_FAILURE_POLICIES = ['recompute', 'fail'] as const;
export type KVLoadFailurePolicy = (typeof KV_LOAD_FAILURE_POLICIES)[number];

export interface KVTransferConfig {
  role: KVTransferRole;
  /** Prefill side: the address the block server binds, and the one it tells decode workers. */
  bindHost: string;
  advertiseHost: string;
  /** 0: any free port. */
  port: number;
  /** Prefill side: how long computed blocks wait for the decode side before they are freed. */
  leaseMs: number;
  /** Decode side: how long a pull may take before the prefill side counts as gone. */
  pullTimeoutMs: number;
  loadFailurePolicy: KVLoadFailurePolicy;
}

export const KV_TRANSFER_DEFAULTS = { bindHost: '127.0.0.1', port: 0, leaseMs: 30_000, pullTimeoutMs: 10_000, loadFailurePolicy: 'recompute' as KVLoadFailurePolicy };

export const isProducer = (c: KVTransferConfig) => c.role !== 'decode';
export const isConsumer = (c: KVTransferConfig) => c.role !== 'prefill';

const VLLM_ROLES: Record<string, KVTransferRole> = { kv_producer: 'prefill', kv_consumer: 'decode', kv_both: 'both' };

const vllmSchema = z.object({
  kv_connector: z.string().optional(),
  kv_role: z.enum(['kv_producer', 'kv_consumer', 'kv_both']),
  kv_ip: z.string().optional(),
  kv_port: z.number().int().min(0).max(65535).optional(),
  kv_load_failure_policy: z.enum(KV_LOAD_FAILURE_POLICIES).optional(),
  kv_connector_extra_config: z.object({
    advertise_host: z.string().optional(),
    lease_seconds: z.number().positive().optional(),
    pull_timeout_seconds: z.number().positive().optional(),
  }).passthrough().optional(),
}).passthrough();

/** vLLM's `--kv-transfer-config` JSON, in tsllm's terms. */
export function parseKVTransferConfigJson(json: string): KVTransferConfig {
  const c = parseJsonOption('--kv-transfer-config', json, vllmSchema);
  if (c.kv_connector !== undefined && !['TsllmConnector', 'ZmqConnector'].includes(c.kv_connector)) {
    throw new UsageError(`--kv-transfer-config: kv_connector "${c.kv_connector}" is not one tsllm has (TsllmConnector: ZeroMQ between tsllm servers)`);
  }
  const x = c.kv_connector_extra_config ?? {};
  const bindHost = c.kv_ip ?? KV_TRANSFER_DEFAULTS.bindHost;
  return {
    role: VLLM_ROLES[c.kv_role]!, bindHost, advertiseHost: x.advertise_host ?? (bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost),
    port: c.kv_port ?? KV_TRANSFER_DEFAULTS.port, leaseMs: (x.lease_seconds ?? KV_TRANSFER_DEFAULTS.leaseMs / 1000) * 1000,
    pullTimeoutMs: (x.pull_timeout_seconds ?? KV_TRANSFER_DEFAULTS.pullTimeoutMs / 1000) * 1000, loadFailurePolicy: c.kv_load_failure_policy ?? KV_TRANSFER_DEFAULTS.loadFailurePolicy,
  };
}

/** What a request asks of the connector (vLLM's `kv_transfer_params`, parsed). */
export type KVTransferRequest =
  | { doRemoteDecode: true }
  | { doRemotePrefill: true; remote: RemoteBlocks };

/** Where a prefilled prompt's blocks wait, as the prefill side's answer names them. */
export interface RemoteBlocks {
  engineId: string;
  host: string;
  port: number;
  leaseId: string;
  numBlocks: number;
  blockSize: number;
  kvCacheDtype: string;
  modelFingerprint: string;
}

const paramsSchema = z.object({
  do_remote_decode: z.boolean().optional(),
  do_remote_prefill: z.boolean().optional(),
  remote_engine_id: z.string().optional(),
  remote_host: z.string().optional(),
  remote_port: z.number().int().optional(),
  remote_request_id: z.string().optional(),
  remote_num_blocks: z.number().int().min(0).optional(),
  remote_block_size: z.number().int().positive().optional(),
  remote_kv_cache_dtype: z.string().optional(),
  remote_model_fingerprint: z.string().optional(),
}).passthrough();

/** A request body's `kv_transfer_params` (null: none, or nothing to do). Throws UsageError when malformed. */
export function parseKVTransferParams(p: unknown): KVTransferRequest | null {
  if (p === undefined || p === null) return null;
  const r = paramsSchema.safeParse(p);
  if (!r.success) throw new UsageError(`kv_transfer_params: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const v = r.data;
  if (v.do_remote_decode && v.do_remote_prefill) throw new UsageError('kv_transfer_params: do_remote_decode and do_remote_prefill exclude each other');
  if (v.do_remote_decode) return { doRemoteDecode: true };
  if (!v.do_remote_prefill) return null;
  const need = ['remote_engine_id', 'remote_host', 'remote_port', 'remote_request_id', 'remote_num_blocks', 'remote_block_size', 'remote_kv_cache_dtype', 'remote_model_fingerprint'] as const;
  const missing = need.filter((k) => v[k] === undefined);
  if (missing.length > 0) throw new UsageError(`kv_transfer_params: do_remote_prefill needs ${missing.join(', ')} (pass on the prefill server's kv_transfer_params)`);
  return {
    doRemotePrefill: true,
    remote: {
      engineId: v.remote_engine_id!, host: v.remote_host!, port: v.remote_port!, leaseId: v.remote_request_id!, numBlocks: v.remote_num_blocks!,
      blockSize: v.remote_block_size!, kvCacheDtype: v.remote_kv_cache_dtype!, modelFingerprint: v.remote_model_fingerprint!,
    },
  };
}

/** The prefill side's answer, in vLLM's field names, for the decode side's request. */
export function remoteBlocksParams(b: RemoteBlocks): Record<string, unknown> {
  return {
    do_remote_prefill: true, do_remote_decode: false, remote_engine_id: b.engineId, remote_host: b.host, remote_port: b.port, remote_request_id: b.leaseId,
    remote_num_blocks: b.numBlocks, remote_block_size: b.blockSize, remote_kv_cache_dtype: b.kvCacheDtype, remote_model_fingerprint: b.modelFingerprint,
  };
}
