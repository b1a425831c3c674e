-- Compaction of settled months. Readers use FINAL, whose cost grows with the number of
-- parts a range touches; background merges leave a month at ~5–15 parts for good. With
-- these settings ClickHouse merges every part of a partition (one month) into one once
-- all of them are older than an hour: a past month (nothing new arrives but the odd late
-- correction or backfill chunk) becomes one part, while the current month, which gets new
-- parts every flush, is left to the ordinary merges. A late write to an old month adds a
-- part that is merged in an hour after it. (bench/parts.ts measures the read time.)
ALTER TABLE metric_windows MODIFY SETTING min_age_to_force_merge_seconds = 3600;
ALTER TABLE metric_windows MODIFY SETTING min_age_to_force_merge_on_partition_only = 1;
ALTER TABLE metric_windows_hourly MODIFY SETTING min_age_to_force_merge_seconds = 3600;
ALTER TABLE metric_windows_hourly MODIFY SETTING min_age_to_force_merge_on_partition_only = 1;
ALTER TABLE windows MODIFY SETTING min_age_to_force_merge_seconds = 3600;
ALTER TABLE windows MODIFY SETTING min_age_to_force_merge_on_partition_only = 1;
