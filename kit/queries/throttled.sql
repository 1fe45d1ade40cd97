-- name: throttled
-- engines: lake, athena, security-lake
-- returns: kit.rollup.THROTTLED_COLUMNS (= SECOND_COLUMNS), the counted caller STS calls that
--          {sts_signal} names sts-throttled, per caller, quota bucket and second: account_id,
--          principal_arn, user_agent, bucket, bucket_region, second, calls
-- scans: the store once (counted); with --accounts, only the selected accounts' partitions
--          (kit.queries.ACCOUNT_PRUNED)
-- parameters: those of _judged.sql, the fragment {sts_signal} (_signals.sql) and {throttled}
WITH {judged}
SELECT account AS account_id, principal AS principal_arn, user_agent, endpoint AS bucket, bucket_region,
  substr(event_time, 1, 19) AS second, count(*) AS calls
FROM counted
WHERE {sts_signal} = {throttled}
GROUP BY 1, 2, 3, 4, 5, 6
