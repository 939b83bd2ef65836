// tsllm's version, from its package.json (dist/src/util/ -> the package root), so --version, env and
// the server report the published one.

import fs from 'node:fs';

export const TSLLM_VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
