-- name: sts_calls
-- engines: lake, athena
-- returns: kit.rollup.STS_CALL_COLUMNS, one row per STS caller and minute: account_id, principal_arn,
--          principal_type, user_agent, source_ip, event_name, host, endpoint, event_region,
--          serving_region, minute, calls, errors, first_seen, last_seen
-- scans: the store once (counted); with --accounts, only the selected accounts' partitions
--          (kit.queries.ACCOUNT_PRUNED)
-- parameters: those of _judged.sql
WITH {judged}
SELECT account AS account_id, principal AS principal_arn, kind AS principal_type, user_agent, source_ip,
  event_name, host, endpoint, region AS event_region, serving_region, substr(event_time, 1, 16) AS minute,
  count(*) AS calls, sum(CASE WHEN error_code <> '' THEN 1 ELSE 0 END) AS errors,
  min(event_time) AS first_seen, max(event_time) AS last_seen
FROM counted
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
