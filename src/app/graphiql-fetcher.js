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

  function operationOf(params, documentAST) {
    var definitions = (documentAST && documentAST.definitions) || [];
    for (var i = 0; i < definitions.length; i++) {
      var d = definitions[i];
      if (d.kind !== 'OperationDefinition') continue;
      if (!params.operationName || (d.name && d.name.value === params.operationName)) return d.operation;
    }
    return 'query';
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
    var it = wsClient(authorization).iterate({ query: params.query, variables: params.variables || undefined, operationName: params.operationName || undefined });
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
    if (operationOf(params, opts && opts.documentAST) === 'subscription') return subscribe(params, authorizationOf(headers));
    return overHttp(params, headers);
  };
})();
