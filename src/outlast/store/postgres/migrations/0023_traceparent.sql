-- A run's trace context: the W3C ``traceparent`` of the span its trigger was made in (a
-- parent run's ``trigger_and_wait`` span, an app's request span, or the header of an HTTP
-- trigger). Each attempt of the run is exported as a child of it, so the run's attempts
-- join the trace that triggered them; NULL when the trigger was made outside any trace.
-- Kept apart from metadata, which is the user's.

ALTER TABLE runs ADD COLUMN traceparent TEXT;
