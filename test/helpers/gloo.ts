// Whether the Gloo collectives addon was built (it needs Debian's libgloo-dev; .ci/run installs it
// and sets TSLLM_REQUIRE_GLOO=1, so CI fails rather than skips the multi-process tests).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';

export const GLOO_BUILT = existsSync(path.join(REPO_ROOT, 'native', 'comm', 'build', 'Release', 'tsllm_comm.node'));

/** A describe() option: skip without Gloo, unless the environment demands it. */
export const skipWithoutGloo: string | false = !GLOO_BUILT && process.env['TSLLM_REQUIRE_GLOO'] !== '1'
  ? 'the Gloo collectives addon is not built (apt-get install libgloo-dev, then npm install; .ci/run does)'
  : false;
