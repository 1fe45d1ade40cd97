-- name: signals
-- engines: lake, athena, security-lake
-- returns: kit.rollup.SIGNAL_COLUMNS, the evidence of breakage of kit.signals per caller, signal,
--          endpoint and Region: account_id, principal_arn, user_agent, signal, endpoint, region,
--          events, sessions, first_seen, last_seen, example_event_id. STS-call signals: counted
--          calls by {sts_signal}, at their endpoint and bucket_region, sessions 0. Token signals:
--          issued = counted global calls without errorCode whose issued key is a JSON string;
--          uses = events of the window (each eventID once, never the issuing call) with that key
--          as userIdentity.accessKeyId in an opt-in Region (kit.regions.is_opt_in), one per
--          sharedEventID (its smallest eventID), for the issuing caller at endpoint 'global'.
--          Trino computes a CTE again wherever it is named: counted (two scans of the store, see
--          _judged.sql) is named twice and windowed once, so the store is scanned five times; tokens
--          is named once (the VALUES cross join gives both token signals) to keep it so
-- parameters: those of _judged.sql, the fragment {sts_signal} (_signals.sql), {token_in_use},
--          {token_rejected}, {rejected_codes}, {rejected_message}, {default_regions} and
--          {region_code} (kit.queries.signal_values)
WITH {judged},
issued AS (
  SELECT DISTINCT json_extract_scalar(issued_key, '$') AS session, account, principal, user_agent
  FROM counted
  WHERE endpoint = 'global' AND error_code = '' AND json_format(issued_key) LIKE '"%'
),
tokens AS (
  SELECT account, principal, issued.user_agent, 'global' AS endpoint, region, event_time, event_id, session,
    error_code IN ({rejected_codes}) OR strpos(error_message, {rejected_message}) = 1 AS rejected, shared_id,
    row_number() OVER (PARTITION BY shared_id ORDER BY event_id) AS use_copy
  FROM windowed JOIN issued ON key_used = session
  WHERE event_time IS NOT NULL AND (event_id = '' OR id_copy = 1)
    AND key_used <> coalesce(json_extract_scalar(issued_key, '$'), '')
    AND region NOT IN ({default_regions}) AND regexp_like(region, {region_code})
),
evidence AS (
  SELECT account, principal, user_agent, {sts_signal} AS signal, endpoint, bucket_region AS region, event_time,
    event_id, CAST(NULL AS VARCHAR) AS session
  FROM counted
  UNION ALL
  SELECT account, principal, user_agent, signal, endpoint, region, event_time, event_id, session
  FROM tokens CROSS JOIN (VALUES {token_in_use}, {token_rejected}) AS token_signals (signal)
  WHERE (shared_id = '' OR use_copy = 1) AND (signal = {token_in_use} OR rejected)
)
SELECT account AS account_id, principal AS principal_arn, user_agent, signal, endpoint, region, count(*) AS events,
  count(DISTINCT session) AS sessions, min(event_time) AS first_seen, max(event_time) AS last_seen,
  coalesce(min(nullif(event_id, '')), '') AS example_event_id
FROM evidence
WHERE signal <> ''
GROUP BY 1, 2, 3, 4, 5, 6
