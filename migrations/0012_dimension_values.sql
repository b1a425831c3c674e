-- The kept values of each tenant's budgeted dimensions (DESIGN.md "Cardinality budgets"):
-- a tenant's first `maxValuesPerTenant` values of a dimension are stored as themselves,
-- later ones fold into '__other__'. The aggregator saves a newly kept value in the flush
-- *before* it writes any metric cell that uses it, and loads the table when it (re)starts,
-- so the kept set is the same after a crash, a restore or a partition moving, and backfill
-- can use the same one (src/aggregate/dimension-budget.ts says why not the event log).
--
-- `position`: the value's rank in the tenant's arrival order (1 = first kept). Loading
-- orders by (position, value) and stops at the budget, so even two writers racing (a
-- zombie worker) give one deterministic set. Currency is not here: over-budget currencies
-- are rejected at ingest, not folded.
-- Engine: ReplacingMergeTree ORDER BY (tenant_id, dimension, value): saving a value again
-- (a retried flush) leaves one row; a load reads one tenant prefix or the whole (small) table.
CREATE TABLE IF NOT EXISTS dimension_values
(
    tenant_id  String,
    dimension  LowCardinality(String),
    value      String,
    position   UInt32,
    source     LowCardinality(String),
    kept_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, dimension, value);
