-- The task files a worker could not import ({path: {"error", "traceback"}} as JSON; NULL
-- when every file imported). The worker keeps running the tasks of the other files; the
-- Workers page and the runs of the missing tasks say which file failed and why.

ALTER TABLE workers ADD COLUMN import_errors TEXT;
