import { authorize } from '../resolvers/context.ts';
import type { DeadLetterItem, DeadLetterPage } from '../resolvers/dead-letters.ts';
import { listDeadLetters, MAX_PAGE } from '../resolvers/dead-letters.ts';
import type { Builder } from './builder.ts';

export function addDeadLetters(builder: Builder) {
  const DeadLetterRef = builder.objectRef<DeadLetterItem>('DeadLetter').implement({
    description: 'Rejected input kept for operators, with its reason.',
    fields: (t) => ({
      id: t.exposeID('id'),
      reason: t.exposeString('reason', { description: 'snake_case, e.g. schema_violation, tenant_mismatch, invalid_json.' }),
      source: t.exposeString('source', { description: 'http or kafka.' }),
      receivedAt: t.field({ type: 'DateTime', resolve: (d) => d.receivedAt }),
      issues: t.exposeString('issues', { description: 'JSON: what was wrong, per path.' }),
      rawExcerpt: t.exposeString('rawExcerpt', { description: 'The start of the raw payload (1,024 characters at most).' }),
      rawBytes: t.exposeInt('rawBytes', { description: 'Size of the stored raw payload.' }),
    }),
  });

  const DeadLetterEdgeRef = builder.objectRef<DeadLetterPage['edges'][number]>('DeadLetterEdge').implement({
    fields: (t) => ({ cursor: t.exposeString('cursor'), node: t.field({ type: DeadLetterRef, resolve: (e) => e.node }) }),
  });

  const PageInfoRef = builder.objectRef<DeadLetterPage['pageInfo']>('PageInfo').implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` for the next page.' }),
    }),
  });

  const DeadLetterConnectionRef = builder.objectRef<DeadLetterPage>('DeadLetterConnection').implement({
    fields: (t) => ({
      edges: t.field({ type: [DeadLetterEdgeRef], resolve: (p) => p.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (p) => p.pageInfo }),
    }),
  });

  builder.queryField('deadLetters', (t) =>
    t.field({
      type: DeadLetterConnectionRef,
      description: 'Dead letters of the caller’s tenant, newest first. Needs an admin token.',
      args: {
        reason: t.arg.string({ required: false, description: 'Only this reason.' }),
        first: t.arg.int({ required: true, defaultValue: 20, description: `Page size, 1–${MAX_PAGE}.` }),
        after: t.arg.string({ required: false, description: 'pageInfo.endCursor of the previous page (opaque).' }),
      },
      resolve: (_root, args, ctx) => {
        const { tenantId } = authorize(ctx, 'admin');
        return listDeadLetters(ctx.services.deadLetters, { tenantId, reason: args.reason ?? null, first: args.first, after: args.after ?? null });
      },
    }),
  );
}
