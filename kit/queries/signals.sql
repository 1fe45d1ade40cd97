-- name: signals
-- engines: lake, athena, security-lake
-- returns: kit.rollup.SIGNAL_COLUMNS, the evidence of breakage of kit.signals per caller, signal,
--          endpoint and Region: account_id, principal_arn, user_agent, signal, endpoint, region,
--          events, sessions, first_seen, last_seen, example_event_id. STS-call signals: counted
--          calls by {sts_signal}, at their endpoint and bucket_region, sessions 0. Token signals:
--          issued = counted global calls without errorCode whose issued key is a JSON string;
--          uses = events of the window (each eventID once, never the issuing call) with that key
--          as userIdentity.accessKeyId in an opt-in Region (kit.regions.is_opt_in), one per
--          sharedEventID (its smallest eventID), for the issuing caller at endpoint 'global' (a key
--          issued to several callers, which real keys never are, is the first caller's by name).
-- scans: the store once, every account (a key is used in the account of the role assumed): each
--          row of settled is read in the roles it plays ('call': a counted call; 'issued': it hands
--          out a key; a token signal: it uses a key), and a use finds its key's issuer with window
--          functions over the rows of that key (session) instead of a join
-- parameters: those of _judged.sql, the fragment {sts_signal} (_signals.sql), {token_in_use},
--          {token_rejected}, {rejected_codes}, {rejected_message}, {default_regions} and
--          {region_code} (kit.queries.signal_values)
WITH {judged},
roles AS (
  SELECT settled.*, role,
    CASE WHEN role = 'issued' THEN json_extract_scalar(issued_key, '$') WHEN role <> 'call' THEN key_used END
      AS session
  FROM settled CROSS JOIN (VALUES 'call', 'issued', {token_in_use}, {token_rejected}) AS roles (role)
  WHERE CASE role WHEN 'call' THEN counts
    WHEN 'issued' THEN counts AND endpoint = 'global' AND error_code = '' AND json_format(issued_key) LIKE '"%'
    ELSE event_time IS NOT NULL AND (event_id = '' OR id_copy = 1) AND key_used <> ''
      AND key_used <> coalesce(json_extract_scalar(issued_key, '$'), '')
      AND region NOT IN ({default_regions}) AND regexp_like(region, {region_code}) END
),
keyed AS (
  SELECT roles.*,
    max(CASE WHEN role = 'issued' THEN 1 ELSE 0 END)
      OVER (PARTITION BY session, CASE WHEN role = 'call' THEN event_id END) = 1 AS has_issuer,
    first_value(account) OVER (PARTITION BY session, CASE WHEN role = 'call' THEN event_id END
      ORDER BY role <> 'issued', account, principal, user_agent) AS issuer_account,
    first_value(principal) OVER (PARTITION BY session, CASE WHEN role = 'call' THEN event_id END
      ORDER BY role <> 'issued', account, principal, user_agent) AS issuer,
    first_value(user_agent) OVER (PARTITION BY session, CASE WHEN role = 'call' THEN event_id END
      ORDER BY role <> 'issued', account, principal, user_agent) AS issuer_agent
  FROM roles
),
evidence AS (
  SELECT keyed.*, row_number() OVER (PARTITION BY role, has_issuer, shared_id,
    CASE WHEN role = 'call' OR shared_id = '' THEN event_id END ORDER BY event_id) AS use_copy
  FROM keyed
)
SELECT CASE WHEN role = 'call' THEN account ELSE issuer_account END AS account_id,
  CASE WHEN role = 'call' THEN principal ELSE issuer END AS principal_arn,
  CASE WHEN role = 'call' THEN user_agent ELSE issuer_agent END AS user_agent,
  CASE WHEN role = 'call' THEN {sts_signal} ELSE role END AS signal,
  CASE WHEN role = 'call' THEN endpoint ELSE 'global' END AS endpoint,
  CASE WHEN role = 'call' THEN bucket_region ELSE region END AS region,
  count(*) AS events, count(DISTINCT CASE WHEN role <> 'call' THEN session END) AS sessions,
  min(event_time) AS first_seen, max(event_time) AS last_seen,
  coalesce(min(nullif(event_id, '')), '') AS example_event_id
FROM evidence
WHERE CASE role WHEN 'call' THEN {sts_signal} <> '' WHEN 'issued' THEN false
  ELSE has_issuer AND (shared_id = '' OR use_copy = 1)
    AND (role = {token_in_use} OR error_code IN ({rejected_codes}) OR strpos(error_message, {rejected_message}) = 1) END
GROUP BY 1, 2, 3, 4, 5, 6
