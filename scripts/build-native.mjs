// `npm install` hook: builds the native kernels addon with node-gyp. A machine without a C++ toolchain
// still installs: tsllm then runs on the TypeScript backend and says so once when a model loads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const nativeDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native');

if (process.env.TSLLM_SKIP_NATIVE === '1') {
  console.log('tsllm: TSLLM_SKIP_NATIVE=1, not building the native kernels');
  process.exit(0);
}

// npm names its own node-gyp in npm_config_node_gyp for lifecycle scripts; run by hand, use the copy
// bundled with npm beside this Node, else whatever node-gyp is on PATH.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const gyp = [process.env.npm_config_node_gyp, path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]
  .find((p) => p && existsSync(p));
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
// Build against the running Node's own headers when it has them, so no header download is needed.
const localHeaders = existsSync(path.join(prefix, 'include', 'node', 'node_api.h'));
const nodedir = process.env.npm_config_nodedir || (localHeaders ? prefix : undefined);
function gypRebuild(dir) {
  return spawnSync(cmd, [...args, 'rebuild', '--jobs=max', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: dir, stdio: 'inherit' });
}
const started = Date.now();
const result = gypRebuild(nativeDir);
if (result.status === 0) {
  console.log(`tsllm: native kernels built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} else {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
  console.warn(`tsllm: warning: the native kernels could not be built (${why}); tsllm will run on the slow TypeScript backend`);
}

// The collectives addon needs Gloo's headers; without them tsllm runs on one process only.
if (existsSync('/usr/include/gloo/allreduce.h')) {
  const comm = gypRebuild(path.join(nativeDir, 'comm'));
  if (comm.status === 0) console.log('tsllm: collectives (Gloo) built');
  else console.warn('tsllm: warning: the Gloo collectives addon could not be built; --tensor-parallel-size/--pipeline-parallel-size > 1 are unavailable');
} else {
  console.log('tsllm: Gloo not found (apt install libgloo-dev): running on one process only; --tensor-parallel-size/--pipeline-parallel-size > 1 need it');
}
