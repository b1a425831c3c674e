/* global window, location, graphqlWs */
// Browser script of the GraphiQL page (src/app/graphiql-page.ts), loaded after graphql-ws's
// UMD bundle (the global `graphqlWs`). GraphiQL calls a fetcher with each operation and the
// headers of the tab it runs in; yoga's built-in fetcher sends those headers over HTTP only,
// so a subscription's websocket opened with an empty connection_init payload and was closed
// 4403. This fetcher sends queries (and introspection) over HTTP with the tab's headers, and
// subscriptions over graphql-ws with the tab's Authorization in the connection_init payload.
(function () {
  'use strict';
  var endpoint = new URL(location.pathname, location.href).toString();
  var wsEndpoint = endpoint.replace(/^http/, 'ws');
  // One lazy graphql-ws client per Authorization value: it connects on the first subscription
  // and closes when the last one ends, so a tab with another token gets its own connection.
  var clients = new Map();

  function authorizationOf(headers) {
    for (var name in headers || {}) if (name.toLowerCase() === 'authorization') return String(headers[name]);
    return '';
  }

  // The operations of a document as [{ type, name }], read from its text with a small
  // scanner (comments, strings and anything nested in brackets skipped). GraphiQL's own
  // `documentAST` and `operationName` come from a handler it debounces by 100 ms after
  // each edit: a document pasted and run at once (or on a busy machine) arrives with the
  // previous document's facts, and a subscription would have gone over HTTP as a query
  // named after an operation it does not contain. The text sent is the only truth.
  function operationsOf(text) {
    var ops = [];
    var depth = 0;
    var header = null; // the definition whose selection set has not opened yet
    var i = 0;
    var n = text.length;
    while (i < n) {
      var c = text[i];
      if (c === '#') {
        while (i < n && text[i] !== '\n' && text[i] !== '\r') i++;
      } else if (text.startsWith('"""', i)) {
        i += 3;
        while (i < n && !text.startsWith('"""', i)) i += text.startsWith('\\"""', i) ? 4 : 1;
        i += 3;
      } else if (c === '"') {
        i++;
        while (i < n && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
        i++;
      } else if (c === '{' || c === '(' || c === '[') {
        if (c === '{' && depth === 0) {
          if (header) header = null;
          else ops.push({ type: 'query', name: null }); // the shorthand `{ … }`
        }
        depth++;
        i++;
      } else if (c === '}' || c === ')' || c === ']') {
        depth = Math.max(0, depth - 1);
        i++;
      } else if (/[_A-Za-z]/.test(c)) {
        var start = i;
        while (i < n && /[_0-9A-Za-z]/.test(text[i])) i++;
        var word = text.slice(start, i);
        if (depth > 0) continue;
        if (header && header.name === undefined) header.name = word;
        else if (!header && (word === 'query' || word === 'mutation' || word === 'subscription')) {
          header = { type: word, name: undefined };
          ops.push(header);
        } else if (!header && word === 'fragment') header = { type: 'fragment', name: null };
      } else {
        // Anything else ends a definition's name position: `query ($a: …)`, `query @dir`.
        if (header && header.name === undefined && !/[\s,]/.test(c)) header.name = null;
        i++;
      }
    }
    for (var k = 0; k < ops.length; k++) if (ops[k].name === undefined) ops[k].name = null;
    return ops;
  }

  /** The operation to run and the name to send: GraphiQL's name when the text has it, else the text's only operation. */
  function operationOf(params) {
    var ops = operationsOf(String(params.query || ''));
    for (var k = 0; k < ops.length; k++) if (params.operationName && ops[k].name === params.operationName) return { type: ops[k].type, name: ops[k].name };
    if (ops.length === 1) return { type: ops[0].type, name: ops[0].name || undefined };
    // Several operations and no name among them: the server says which name is missing.
    return { type: 'query', name: params.operationName || undefined };
  }

  function wsClient(authorization) {
    var client = clients.get(authorization);
    if (!client) {
      client = graphqlWs.createClient({
        url: wsEndpoint,
        lazy: true,
        connectionParams: authorization ? { authorization: authorization } : {},
        // A refused token stays refused: say so at once instead of retrying with backoff.
        shouldRetry: function (event) {
          return !(event && event.code === 4403);
        },
      });
      clients.set(authorization, client);
    }
    return client;
  }

  // A close event (e.g. 4403 without a valid token) becomes an error GraphiQL can show.
  function readable(err) {
    if (err && typeof err.code === 'number') return new Error('Websocket closed ' + err.code + (err.reason ? ': ' + err.reason : '') + (err.code === 4403 ? ' (add your token as an Authorization header in the Headers tab)' : ''));
    return err;
  }

  function subscribe(params, authorization) {
    var it = wsClient(authorization).iterate({ query: params.query, variables: params.variables || undefined, operationName: params.operationName });
    var wrapped = {
      next: function () {
        return it.next().catch(function (err) {
          throw readable(err);
        });
      },
      return: function () {
        return it.return ? it.return() : Promise.resolve({ done: true, value: undefined });
      },
    };
    wrapped[Symbol.asyncIterator] = function () {
      return wrapped;
    };
    return wrapped;
  }

  function overHttp(params, headers) {
    return fetch(endpoint, {
      method: 'POST',
      credentials: 'omit',
      headers: Object.assign({ 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' }, headers),
      body: JSON.stringify({ query: params.query, variables: params.variables, operationName: params.operationName }),
    }).then(function (res) {
      return res.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (_err) {
          throw new Error('HTTP ' + res.status + ': ' + text.slice(0, 200));
        }
      });
    });
  }

  window.tilecastGraphiQLFetcher = function (params, opts) {
    var headers = (opts && opts.headers) || {};
    var op = operationOf(params);
    var sent = { query: params.query, variables: params.variables, operationName: op.name };
    if (op.type === 'subscription') return subscribe(sent, authorizationOf(headers));
    return overHttp(sent, headers);
  };
})();
