// The flags of prefill/decode disaggregation on `tsllm serve`: tsllm's own, or vLLM's JSON.

import { Option, type Command } from 'commander';
import {
  KV_LOAD_FAILURE_POLICIES, KV_TRANSFER_DEFAULTS, KV_TRANSFER_ROLES, parseKVTransferConfigJson, type KVLoadFailurePolicy, type KVTransferConfig, type KVTransferRole,
} from '../engine/kv-transfer/kv-transfer-config.js';
import { UsageError } from '../util/errors.js';
import { parseFloatArg, parseIntArg } from './run-command.js';

export interface KVTransferFlags {
  kvTransferRole?: KVTransferRole;
  kvTransferConfig?: string;
  kvTransferHost?: string;
  kvTransferAdvertiseHost?: string;
  kvTransferPort?: number;
  kvLeaseSeconds?: number;
  kvPullTimeout?: number;
  kvLoadFailurePolicy?: KVLoadFailurePolicy;
}

export function addKVTransferOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--kv-transfer-role <role>', 'prefill/decode disaggregation: prefill for decode servers, decode from prefill servers, or both').choices(KV_TRANSFER_ROLES))
    .option('--kv-transfer-config <json>', 'vLLM\'s form: {"kv_role": "kv_producer"|"kv_consumer"|"kv_both", "kv_port": N, "kv_ip": ADDR, "kv_load_failure_policy": "recompute"|"fail", "kv_connector_extra_config": {"lease_seconds": S}}')
    .option('--kv-transfer-host <addr>', `prefill side: address its KV block server binds (default ${KV_TRANSFER_DEFAULTS.bindHost})`)
    .option('--kv-transfer-advertise-host <addr>', 'prefill side: address decode servers are told to pull from (default: the bind address)')
    .option('--kv-transfer-port <n>', 'prefill side: port of its KV block server (default: any free port)', parseIntArg('--kv-transfer-port'))
    .option('--kv-lease-seconds <s>', `prefill side: how long a prefilled prompt's blocks wait for its decode server (default ${KV_TRANSFER_DEFAULTS.leaseMs / 1000})`, parseFloatArg('--kv-lease-seconds'))
    .option('--kv-pull-timeout <s>', `decode side: how long a pull may take before the prefill server counts as gone (default ${KV_TRANSFER_DEFAULTS.pullTimeoutMs / 1000})`, parseFloatArg('--kv-pull-timeout'))
    .addOption(new Option('--kv-load-failure-policy <policy>', 'decode side, when the KV cannot be had: recompute the prompt, or fail the request (default recompute)').choices(KV_LOAD_FAILURE_POLICIES));
}

export function kvTransferFromFlags(f: KVTransferFlags): KVTransferConfig | undefined {
  if (f.kvTransferConfig && f.kvTransferRole) throw new UsageError('give --kv-transfer-role or --kv-transfer-config, not both');
  const base = f.kvTransferConfig ? parseKVTransferConfigJson(f.kvTransferConfig) : null;
  if (!base && !f.kvTransferRole) {
    const stray = (['kvTransferHost', 'kvTransferPort', 'kvLeaseSeconds', 'kvPullTimeout', 'kvLoadFailurePolicy'] as const).find((k) => f[k] !== undefined);
    if (stray) throw new UsageError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --kv-transfer-role (or --kv-transfer-config)`);
    return undefined;
  }
  const bindHost = f.kvTransferHost ?? base?.bindHost ?? KV_TRANSFER_DEFAULTS.bindHost;
  const c: KVTransferConfig = {
    role: f.kvTransferRole ?? base!.role, bindHost,
    advertiseHost: f.kvTransferAdvertiseHost ?? base?.advertiseHost ?? (bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost),
    port: f.kvTransferPort ?? base?.port ?? KV_TRANSFER_DEFAULTS.port,
    leaseMs: f.kvLeaseSeconds !== undefined ? f.kvLeaseSeconds * 1000 : base?.leaseMs ?? KV_TRANSFER_DEFAULTS.leaseMs,
    pullTimeoutMs: f.kvPullTimeout !== undefined ? f.kvPullTimeout * 1000 : base?.pullTimeoutMs ?? KV_TRANSFER_DEFAULTS.pullTimeoutMs,
    loadFailurePolicy: f.kvLoadFailurePolicy ?? base?.loadFailurePolicy ?? KV_TRANSFER_DEFAULTS.loadFailurePolicy,
  };
  if (c.port < 0 || c.port > 65535) throw new UsageError('--kv-transfer-port must be between 0 and 65535');
  if (!(c.leaseMs > 0) || !(c.pullTimeoutMs > 0)) throw new UsageError('--kv-lease-seconds and --kv-pull-timeout must be positive');
  return c;
}
