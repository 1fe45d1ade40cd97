-- name: skips
-- engines: lake, athena
-- returns: reason, events: the events of the window per verdict; the reasons are the kit.events
--          SKIP_* strings (ReadReport.skipped), 'sts' and 'activity' are the events counted
-- parameters: those of _judged.sql
WITH {judged}
SELECT verdict AS reason, count(*) AS events
FROM judged
GROUP BY 1
UNION ALL
SELECT {skip_twin} AS reason, count(DISTINCT shared_id) AS events
FROM sts
WHERE twin AND shared_id IN (SELECT shared_id FROM caller_copies)
