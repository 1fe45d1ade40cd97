-- name: skips
-- engines: lake, athena
-- returns: reason, events: the events of the window per verdict; the reasons are the kit.events
--          SKIP_* strings (ReadReport.skipped), 'sts' and 'activity' are the events counted; and
--          {skip_twin}, the sharedEventIDs whose resource-account copy was left out for the
--          caller's (no row when there are none)
-- scans: the store once, every account: each row of settled is read as its verdict and, for the
--          first twin of a sharedEventID, once more as a twin
-- parameters: those of _judged.sql
WITH {judged}
SELECT CASE part WHEN 'verdict' THEN verdict ELSE {skip_twin} END AS reason, count(*) AS events
FROM settled CROSS JOIN (VALUES 'verdict', 'twin') AS parts (part)
WHERE part = 'verdict' OR (twin AND caller_copied AND twin_copy = 1)
GROUP BY 1
