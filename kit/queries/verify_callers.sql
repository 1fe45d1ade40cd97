-- name: verify_callers
-- engines: lake, athena
-- returns: after a fix, one row per (account_id, principal_arn, endpoint) of the callers checked:
--          account_id, principal_arn, endpoint, calls, last_call. A fixed caller has no 'global' row
--          in a window that starts after the change.
-- scans: the store once (counted), every account
-- parameters: those of _judged.sql, plus principals (the principal ARNs to check)
WITH {judged}
SELECT account AS account_id, principal AS principal_arn, endpoint, count(*) AS calls, max(event_time) AS last_call
FROM counted
WHERE principal IN ({principals})
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
