-- jiralink store, SQLite, migration 7: sprint dates in UTC like every other timestamp. Earlier
-- versions kept the Agile API's text as given (`2015-04-11T15:22:00.000+10:00`); SQLite's strftime
-- reads that offset. A value it cannot read is left as it was.
UPDATE t_sprints SET
    start_date = COALESCE(strftime('%Y-%m-%dT%H:%M:%fZ', start_date), start_date),
    end_date = COALESCE(strftime('%Y-%m-%dT%H:%M:%fZ', end_date), end_date),
    complete_date = COALESCE(strftime('%Y-%m-%dT%H:%M:%fZ', complete_date), complete_date);
