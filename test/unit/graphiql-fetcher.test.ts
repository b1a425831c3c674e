/**
 * The GraphiQL page's fetcher (src/app/graphiql-fetcher.js), run in a VM with stand-ins
 * for the browser: which transport an operation takes, and with what name, is decided from
 * the text GraphiQL sends, not from the `documentAST`/`operationName` GraphiQL passes
 * along. Those come from a handler GraphiQL debounces after each edit, so a document
 * pasted and run at once arrives with the previous document's (issue 16 item 2: a pasted
 * subscription went over HTTP as the dashboard query and showed "Missing bearer token"
 * instead of the 4403 explanation).
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';

const SOURCE = readFileSync(new URL('../../src/app/graphiql-fetcher.js', import.meta.url), 'utf8');

type Sent = { via: 'ws' | 'http'; operationName: unknown; authorization?: unknown };

function loadFetcher() {
  const sent: Sent[] = [];
  const window: Record<string, unknown> = {};
  const graphqlWs = {
    createClient: (o: { connectionParams: { authorization?: string } }) => ({
      iterate: (p: { operationName?: string }) => {
        sent.push({ via: 'ws', operationName: p.operationName, authorization: o.connectionParams.authorization });
        return { next: () => Promise.resolve({ done: true, value: undefined }) };
      },
    }),
  };
  const fetch = (_url: string, init: { body: string }) => {
    sent.push({ via: 'http', operationName: (JSON.parse(init.body) as { operationName?: string }).operationName });
    return Promise.resolve({ status: 200, text: () => Promise.resolve('{"data":{}}') });
  };
  runInNewContext(SOURCE, { window, location: { pathname: '/graphql', href: 'http://localhost/graphql' }, graphqlWs, fetch, URL, Map, Symbol, Promise, Object, JSON, String, Error, Math });
  const fetcher = window.tilecastGraphiQLFetcher as (params: { query: string; operationName?: string | null }, opts: { headers?: Record<string, string>; documentAST?: unknown }) => unknown;
  return { sent, fetcher };
}

const DASHBOARD = 'query Dashboard($currency: String!) { revenue: series(input: { metric: REVENUE, currency: $currency }) { total } }';
const SUBSCRIPTION = 'subscription Analyst { windows(metrics: [PURCHASES], currency: "EUR") { metric value revision } }';

describe('GraphiQL fetcher', () => {
  it('a subscription run before GraphiQL re-parsed the editor (previous document’s AST and name) goes over the websocket under its own name', () => {
    const { sent, fetcher } = loadFetcher();
    fetcher({ query: SUBSCRIPTION, operationName: 'Dashboard' }, { headers: { Authorization: 'Bearer t' }, documentAST: parse(DASHBOARD) });
    fetcher({ query: SUBSCRIPTION, operationName: 'Dashboard' }, { headers: {}, documentAST: parse(DASHBOARD) });
    expect(sent).toEqual([
      { via: 'ws', operationName: 'Analyst', authorization: 'Bearer t' },
      { via: 'ws', operationName: 'Analyst', authorization: undefined },
    ]);
  });

  it('a query run with a stale subscription AST goes over HTTP', () => {
    const { sent, fetcher } = loadFetcher();
    fetcher({ query: DASHBOARD, operationName: 'Analyst' }, { documentAST: parse(SUBSCRIPTION) });
    expect(sent).toEqual([{ via: 'http', operationName: 'Dashboard' }]);
  });

  it.each([
    ['anonymous subscription', 'subscription { freshness { dataAsOf } }', null, 'ws', undefined],
    ['subscription with variables and a directive', 'subscription Live($c: String! = "EUR") @x { windows(currency: $c) { value } }', null, 'ws', 'Live'],
    ['shorthand query', '{ __typename }', null, 'http', undefined],
    ['keywords inside comments, strings and selections do not count', '# subscription S { x }\nquery Q { a(s: "subscription { x }", b: """ subscription """) { subscription } }', null, 'http', 'Q'],
    ['fragments are not operations', 'fragment F on Subscription { windows { value } }\nsubscription S { ...F }', null, 'ws', 'S'],
    ['several operations: the chosen one', 'query A { __typename }\nsubscription B { freshness { dataAsOf } }', 'B', 'ws', 'B'],
    ['several operations, the name given is not among them: left to the server', 'query A { __typename }\nsubscription B { freshness { dataAsOf } }', 'Stale', 'http', 'Stale'],
  ])('%s', (_name, query, operationName, via, sentName) => {
    const { sent, fetcher } = loadFetcher();
    fetcher({ query, operationName }, { documentAST: undefined });
    expect(sent).toEqual([expect.objectContaining({ via, operationName: sentName })]);
  });
});
