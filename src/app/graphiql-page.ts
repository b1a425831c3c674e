/**
 * The GraphiQL page at /graphql, served offline: GraphiQL's bundle, styles and editor
 * workers come from `@graphql-yoga/render-graphiql` (no CDN), graphql-ws's browser build
 * from the `graphql-ws` package. It is that package's page with one change: GraphiQL runs
 * with Tilecast's fetcher (graphiql-fetcher.js), which sends subscriptions over graphql-ws
 * with the tab's `Authorization` header in the connection_init payload — the only place a
 * websocket carries a token — and everything else over HTTP with the tab's headers.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { css, editorWorkerService, favicon, graphqlWorker, js, jsonWorker } from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

const require = createRequire(import.meta.url);
/** graphql-ws's browser build (defines the global `graphqlWs`); the package exports no path to it, so it is found beside its entry. */
const GRAPHQL_WS_UMD = readFileSync(join(dirname(require.resolve('graphql-ws')), '..', 'umd', 'graphql-ws.min.js'), 'utf8');
const FETCHER = readFileSync(fileURLToPath(new URL('./graphiql-fetcher.js', import.meta.url)), 'utf8');

/** JSON safe inside a <script> element (no `</script>` or `<!--` can end it early). */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c');
/** A script's source, inlined: `</script` inside it would end the element. */
const inline = (source: string) => source.replaceAll('</script', '<\\/script');

export function renderGraphiQLPage(opts: GraphiQLOptions): string {
  const title = (opts.title ?? 'GraphiQL').replace(/[<>&"]/g, '');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="icon" href="${opts.favicon ?? favicon}" />
    <style>${css}</style>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>${inline(GRAPHQL_WS_UMD)}</script>
    <script>${inline(FETCHER)}</script>
    <script>
      function prepareBlob(workerContent) {
        return URL.createObjectURL(new Blob([workerContent], { type: 'application/javascript' }));
      }
      const workers = {
        editorWorkerService: prepareBlob(${JSON.stringify(editorWorkerService)}),
        json: prepareBlob(${JSON.stringify(jsonWorker)}),
        graphql: prepareBlob(${JSON.stringify(graphqlWorker)}),
      };
      self['MonacoEnvironment'] = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
      ${js};
      YogaGraphiQL.renderYogaGraphiQL(window.document.querySelector('#root'), { ...${scriptJson(opts)}, fetcher: window.tilecastGraphiQLFetcher });
    </script>
  </body>
</html>
`;
}
