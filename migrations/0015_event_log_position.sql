-- `pos`: the row's position in its append (0 = first event of the batch). With `seq` it is
-- the order events arrived in: a batch (one HTTP request, or one Kafka record holding
-- many events) shares one `seq`, and a part's rows are sorted by the table's key, not by
-- arrival. Recovery replays the events logged after the last checkpoint in (seq, pos)
-- order so a dimension's last kept places go to the values that arrived first
-- (src/aggregate/dimension-budget.ts). Rows logged before this column read 0 (ties then
-- break by event_key).
--
-- ADD COLUMN only changes metadata: old parts answer the default without being rewritten.
ALTER TABLE events ADD COLUMN IF NOT EXISTS pos UInt32 DEFAULT 0 AFTER seq;
