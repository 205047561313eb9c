-- jiralink store, SQLite, migration 12: a sprint date that is not a time is cleared, as PostgreSQL's
-- migration 7 clears it and as the sync stores one today (`utc` gives none). SQLite's migration 7
-- left such a value as it was, so the two backends' `sprints` views disagreed.
UPDATE t_sprints SET
    start_date = CASE WHEN strftime('%s', start_date) IS NOT NULL THEN start_date END,
    end_date = CASE WHEN strftime('%s', end_date) IS NOT NULL THEN end_date END,
    complete_date = CASE WHEN strftime('%s', complete_date) IS NOT NULL THEN complete_date END;
