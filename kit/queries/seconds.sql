-- name: seconds
-- engines: lake, athena
-- returns: kit.rollup.SECOND_COLUMNS, STS calls per caller, quota bucket and second: account_id,
--          principal_arn, user_agent, bucket, bucket_region, second, calls
-- scans: the store once (counted); with --accounts, only the selected accounts' partitions
--          (kit.queries.ACCOUNT_PRUNED)
-- parameters: those of _judged.sql
WITH {judged}
SELECT account AS account_id, principal AS principal_arn, user_agent, endpoint AS bucket, bucket_region,
  substr(event_time, 1, 19) AS second, count(*) AS calls
FROM counted
GROUP BY 1, 2, 3, 4, 5, 6
