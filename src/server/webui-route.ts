// GET /: the chat page (assets/webui/index.html), one self-contained file like llama-server's. Its
// content-security-policy lets it reach this server alone, which also proves it needs no CDN.

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const PAGE = fileURLToPath(new URL('../../../assets/webui/index.html', import.meta.url));
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'";

export function registerWebUi(app: FastifyInstance): void {
  const html = fs.readFileSync(PAGE);
  app.get('/', async (_req, reply) => reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-cache')
    .send(html));
}
