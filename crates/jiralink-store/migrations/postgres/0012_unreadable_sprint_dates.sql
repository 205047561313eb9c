-- jiralink store, PostgreSQL, migration 12: a sprint date that is not a time is cleared, as migration
-- 7 already did here and SQLite's migration 12 now does there (the sync stores none today). Kept
-- so both dialects have the same migrations; it finds nothing to change on a store migration 7 ran on.
UPDATE t_sprints SET
    start_date = CASE WHEN start_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$' THEN start_date END,
    end_date = CASE WHEN end_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$' THEN end_date END,
    complete_date = CASE WHEN complete_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$' THEN complete_date END;
