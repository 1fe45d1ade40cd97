-- name: field_gaps
-- engines: lake, athena, security-lake
-- returns: one row: events (callers' STS calls since the 2025 rollout, kit.fieldgaps.ROLLOUT)
--          and, per field, how many of them lack it: endpoint_type, serving_region, host
-- scans: the store once (judged), every account: both copies of a cross-account call count
-- parameters: those of _judged.sql, plus {rollout} (ISO 8601 text, compared with event_time)
WITH {judged}
SELECT count(*) AS events,
  sum(CASE WHEN endpoint_type = '' THEN 1 ELSE 0 END) AS endpoint_type,
  sum(CASE WHEN serving_region = '' THEN 1 ELSE 0 END) AS serving_region,
  sum(CASE WHEN host = '' THEN 1 ELSE 0 END) AS host
FROM judged
WHERE source = {sts_source} AND verdict IN ('sts', {skip_no_host}) AND event_time >= {rollout}
