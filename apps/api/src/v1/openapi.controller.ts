import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { OPENAPI_DOCUMENT } from './openapi';

/**
 * A page that renders the operations of /v1/openapi.json: no swagger-ui or redoc is
 * installed, and the api downloads nothing, so it is this file's own few lines of script.
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Wharf REST API</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1b1f24; }
  h2 { border-bottom: 1px solid #ccd; padding-bottom: .2rem; margin-top: 2rem; }
  details { border: 1px solid #dde; border-radius: 4px; margin: .4rem 0; padding: .3rem .6rem; }
  summary { cursor: pointer; }
  code, pre { font: 13px ui-monospace, monospace; }
  pre { background: #f5f6f8; padding: .5rem; overflow: auto; }
  .m { display: inline-block; width: 4.2rem; font-weight: 600; text-transform: uppercase; }
  .get { color: #0a6b2d; } .post { color: #0b4fa0; } .put, .patch { color: #8a5a00; } .delete { color: #a11; }
  .ecs { color: #556; font-size: 12px; }
  table { border-collapse: collapse; } td, th { border: 1px solid #dde; padding: .15rem .4rem; text-align: left; }
</style>
</head>
<body>
<h1>Wharf REST API</h1>
<p>The machine-readable document: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<div id="doc">Loading…</div>
<script>
(async () => {
  const root = document.getElementById('doc');
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  };
  let doc;
  try {
    doc = await (await fetch('/v1/openapi.json')).json();
  } catch (err) {
    root.textContent = 'Could not load openapi.json: ' + err;
    return;
  }
  const schemaName = (s) => (s && s.$ref ? s.$ref.split('/').pop() : s ? JSON.stringify(s) : '');
  const mediaOf = (content) => Object.entries(content || {}).map(([t, m]) => t + ' ' + schemaName(m.schema)).join(', ');
  root.textContent = '';
  root.append(el('p', {}, doc.info.description));
  const byTag = new Map(doc.tags.map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) byTag.get(op.tags[0]).push({ path, method, op });
  }
  for (const tag of doc.tags) {
    root.append(el('h2', {}, tag.name), el('p', {}, tag.description));
    for (const { path, method, op } of byTag.get(tag.name)) {
      const details = el('details', { id: op.operationId },
        el('summary', {}, el('span', { class: 'm ' + method }, method), el('code', {}, path), ' — ' + op.summary,
          op['x-ecs-operation'] ? el('span', { class: 'ecs' }, ' (ECS ' + op['x-ecs-operation'] + ')') : ''));
      if (op.description) details.append(el('p', {}, op.description));
      if (op.parameters && op.parameters.length) {
        const t = el('table', {}, el('tr', {}, el('th', {}, 'parameter'), el('th', {}, 'in'), el('th', {}, 'meaning')));
        for (const p of op.parameters) t.append(el('tr', {}, el('td', {}, el('code', {}, p.name)), el('td', {}, p.in), el('td', {}, p.description || '')));
        details.append(t);
      }
      if (op.requestBody) details.append(el('p', {}, 'Body: ', el('code', {}, mediaOf(op.requestBody.content))));
      const rows = el('table', {}, el('tr', {}, el('th', {}, 'status'), el('th', {}, 'answer')));
      for (const [status, r] of Object.entries(op.responses)) {
        const resp = r.$ref ? doc.components.responses[r.$ref.split('/').pop()] : r;
        rows.append(el('tr', {}, el('td', {}, status), el('td', {}, resp.description + (resp.content ? ' — ' + mediaOf(resp.content) : ''))));
      }
      details.append(rows);
      root.append(details);
    }
  }
  root.append(el('h2', {}, 'Schemas'));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    root.append(el('details', { id: 'schema-' + name }, el('summary', {}, el('code', {}, name)),
      el('pre', {}, JSON.stringify(schema, null, 2))));
  }
})();
</script>
</body>
</html>
`;

/** `GET /v1/openapi.json` (the OpenAPI 3.1 document) and `GET /v1/docs` (it, rendered). */
@Controller('v1')
export class OpenApiController {
  private readonly document = JSON.stringify(OPENAPI_DOCUMENT);

  @Get('openapi.json')
  @Header('content-type', 'application/json; charset=utf-8')
  openapi(@Res({ passthrough: true }) res: Response): string {
    res.locals.operation = 'GetOpenApiDocument';
    return this.document;
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  docs(@Res({ passthrough: true }) res: Response): string {
    res.locals.operation = 'GetDocs';
    return DOCS_HTML;
  }
}
