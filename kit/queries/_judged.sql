-- name: _judged (fragment, included as {judged} by every rollup query)
-- engines: lake, athena (nested fields and time read through the dialect's field expressions)
-- returns: CTEs raw -> windowed -> principals -> accounts -> selection (chosen: the account is
--          selected; the account list appears once) -> judged (one row per event of the
--          window, or with an unparseable time, with its verdict: 'sts', 'activity' or a
--          kit.events skip reason) -> sts (endpoint; twin: a verdict 'sts' copy logged in another
--          account than the caller's) -> ranked (twin_copy: the latest copy first among the twins
--          of a sharedEventID; caller_copied: its caller's copy is there) -> settled (counts: an STS
--          call counted after the cross-account twin dedupe of kit.events.Aggregator.settle_twins;
--          bucket_region) -> counted (the rows that count); an eventID counts once (R1).
--          Each CTE reads only the one before it, with window functions instead of joins, so a
--          query that reads one of them reads the store once (Trino inlines a CTE wherever it is
--          named: naming two CTEs of this chain in one query would scan the store twice); rows
--          the windows do not compare are partitioned apart by event_id, so no window partition
--          holds every event.
-- parameters: {store}, {start}, {end}, {prefilter}, {partition_filter} (day partitions and, for
--          the queries of kit.queries.ACCOUNT_PRUNED, the selected accounts' partitions), {selected},
--          {sts_source}, {global_sources}, {global_region}, the skip reasons {skip_*} and the
--          dialect fields {time_text}, {endpoint_type}, {serving_region}, {role_arn}, {issued_key}
--          (the JSON value of responseElements.credentials.accessKeyId, read by signals.sql), and the
--          table-shape pieces {host} (host header expression) and {host_missing}
--          (kit.queries.Dialect.host_values)
raw AS (
  SELECT {time_text} AS event_time,
    coalesce(eventid, '') AS event_id,
    coalesce(eventsource, '') AS source, coalesce(eventname, '') AS event_name,
    coalesce(awsregion, '') AS region, coalesce(sourceipaddress, '') AS source_ip,
    coalesce(useragent, '') AS user_agent, coalesce(errorcode, '') AS error_code,
    coalesce(errormessage, '') AS error_message, {issued_key} AS issued_key,
    coalesce(recipientaccountid, '') AS recipient, coalesce(sharedeventid, '') AS shared_id,
    coalesce({host}, '') AS host,
    coalesce(useridentity.type, '') AS kind, coalesce(useridentity.arn, '') AS arn,
    coalesce(useridentity.accountid, '') AS identity_account,
    coalesce(useridentity.principalid, '') AS principal_id,
    coalesce(useridentity.accesskeyid, '') AS key_used,
    coalesce(useridentity.username, '') AS user_name,
    coalesce(useridentity.invokedby, '') AS invoked_by,
    coalesce(useridentity.sessioncontext.sessionissuer.arn, '') AS issuer_arn,
    coalesce({role_arn}, '') AS role_arn,
    coalesce({endpoint_type}, '') AS endpoint_type,
    coalesce({serving_region}, '') AS serving_region
  FROM {store}
  WHERE {prefilter}{partition_filter}
),
windowed AS (
  SELECT raw.*, row_number() OVER (PARTITION BY event_id, event_time IS NULL ORDER BY event_time) AS id_copy
  FROM raw
  WHERE event_time IS NULL OR (event_time >= {start} AND event_time < {end})
),
principals AS (
  SELECT windowed.*, CASE
    WHEN kind IN ('AssumedRole', 'FederatedUser') THEN CASE
      WHEN arn LIKE '%:assumed-role/aws:ec2-instance/%' THEN arn
      ELSE coalesce(nullif(issuer_arn, ''),
      CASE WHEN regexp_like(arn, '^[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:assumed-role/')
        THEN 'arn:' || regexp_extract(arn, '^[^:]*:([^:]*):', 1) || ':iam::'
          || regexp_extract(arn, '^[^:]*:[^:]*:[^:]*:[^:]*:([^:]*):', 1) || ':role/'
          || regexp_extract(arn, '^[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:assumed-role/([^/]*)', 1)
        ELSE arn END) END
    WHEN kind IN ('WebIdentityUser', 'SAMLUser') THEN coalesce(nullif(CASE WHEN source = {sts_source}
      THEN role_arn ELSE '' END, ''), user_name)
    WHEN arn <> '' THEN arn
    WHEN kind = 'Root' AND identity_account <> '' THEN 'arn:aws:iam::' || identity_account || ':root'
    WHEN principal_id LIKE 'AROA%' OR kind = 'AWSAccount' THEN 'principal:' || split_part(principal_id, ':', 1)
    WHEN principal_id <> '' THEN 'principal:' || principal_id
    ELSE '' END AS principal
  FROM windowed
),
accounts AS (
  SELECT principals.*, CASE WHEN source = {sts_source} THEN coalesce(nullif(identity_account, ''),
      nullif(regexp_extract(principal, '^[^:]*:[^:]*:[^:]*:[^:]*:([^:]*):', 1), ''), nullif(recipient, ''), '')
    ELSE coalesce(nullif(identity_account, ''), nullif(recipient, ''), '') END AS account
  FROM principals
),
selection AS (SELECT accounts.*, {selected} AS chosen FROM accounts),
judged AS (
  SELECT selection.*, CASE
    WHEN event_time IS NULL THEN {skip_bad_time}
    WHEN event_id <> '' AND id_copy > 1 THEN {skip_duplicate}
    WHEN source = {sts_source} THEN CASE
      WHEN source_ip = 'AWS Internal' OR source_ip LIKE '%.amazonaws.com' OR user_agent LIKE 'aws-internal/%'
        OR kind = 'AWSService' OR invoked_by <> '' THEN {skip_service}
      WHEN {host_missing} THEN {skip_no_host}
      WHEN NOT chosen THEN {skip_account}
      ELSE 'sts' END
    WHEN source = '' THEN {skip_no_source}
    WHEN source IN ({global_sources}) THEN {skip_global_service}
    WHEN kind = 'AWSService' OR (principal = '' AND invoked_by <> '') THEN {skip_service_activity}
    WHEN principal = '' THEN {skip_no_principal}
    WHEN NOT chosen THEN {skip_account}
    ELSE 'activity' END AS verdict
  FROM selection
),
sts AS (
  SELECT judged.*,
    CASE WHEN endpoint_type IN ('global', 'regional') THEN endpoint_type
      WHEN host = 'sts.amazonaws.com' OR host LIKE 'sts-global.%' THEN 'global' ELSE 'regional' END AS endpoint,
    verdict = 'sts' AND shared_id <> '' AND coalesce(nullif(recipient, ''), account) <> account AS twin
  FROM judged
),
ranked AS (
  SELECT sts.*,
    row_number() OVER (PARTITION BY twin, shared_id, CASE WHEN NOT twin THEN event_id END
      ORDER BY event_time DESC) AS twin_copy,
    max(CASE WHEN verdict = 'sts' AND NOT twin THEN 1 ELSE 0 END)
      OVER (PARTITION BY shared_id, CASE WHEN shared_id = '' THEN event_id END) = 1 AS caller_copied
  FROM sts
),
settled AS (
  SELECT ranked.*, verdict = 'sts' AND (NOT twin OR (twin_copy = 1 AND NOT caller_copied)) AS counts,
    CASE WHEN endpoint = 'regional' THEN region ELSE coalesce(nullif(serving_region, ''), {global_region}) END
      AS bucket_region
  FROM ranked
),
counted AS (SELECT * FROM settled WHERE counts)
