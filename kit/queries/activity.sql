-- name: activity
-- engines: lake, athena
-- returns: kit.rollup.ACTIVITY_COLUMNS, non-STS calls per principal and Region (global services
--          left out): account_id, principal_arn, region, calls
-- scans: the store once (judged), every account: a cross-account call's copy logged in the
--          resource account counts too
-- parameters: those of _judged.sql
WITH {judged}
SELECT account AS account_id, principal AS principal_arn, region, count(*) AS calls
FROM judged
WHERE verdict = 'activity'
GROUP BY 1, 2, 3
