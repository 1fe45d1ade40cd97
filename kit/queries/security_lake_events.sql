-- name: security_lake_events (fragment, the {store} of the rollup queries for --source security-lake)
-- engines: security-lake (DuckDB over local Parquet files; Athena over the Security Lake table)
-- returns: one row per OCSF API Activity event of CloudTrail management events (kit.ocsf), with
--          the columns of the kit's CloudTrail table that _judged.sql reads, so every rule is shared,
--          and the partitions eventday and accountid, which {partition_filter} bounds;
--          the OCSF field of each is that of the OCSF 1.5.0 CloudTrail API Activity dossier.
--          ocsf_endpoint_type, ocsf_serving_region: the unmapped keys of additionalEventData.RequestDetails.
--          Read by signals.sql: errorCode -> api.response.error, errorMessage -> api.response.message,
--          responseElements -> api.response.data (JSON text), userIdentity.accessKeyId ->
--          actor.user.credential_uid (the v1.5.0 dossier's table, ocsf/examples
--          mappings/markdown/AWS/v1.5.0/CloudTrail/API Activity/README.md; not actor.session.uid)
-- parameters: {ocsf_table} ("database"."table"), {unmapped_host}, {unmapped_endpoint_type},
--          {unmapped_serving_region}, {unmapped_shared_id} (unmapped keys, see kit.ocsf)
(SELECT time_dt, eventday, accountid,
    metadata.uid AS eventid,
    metadata.product.version AS eventversion,
    metadata.event_code AS eventtype,
    api.service.name AS eventsource,
    api.operation AS eventname,
    api.response.error AS errorcode,
    api.response.message AS errormessage,
    api.response.data AS responseelements,
    api.request.data AS requestparameters,
    cloud.region AS awsregion,
    cloud.account.uid AS recipientaccountid,
    coalesce(src_endpoint.ip, src_endpoint.domain) AS sourceipaddress,
    http_request.user_agent AS useragent,
    element_at(unmapped, {unmapped_shared_id}) AS sharedeventid,
    element_at(unmapped, {unmapped_endpoint_type}) AS ocsf_endpoint_type,
    element_at(unmapped, {unmapped_serving_region}) AS ocsf_serving_region,
    CAST(ROW(element_at(unmapped, {unmapped_host})) AS ROW(clientprovidedhostheader VARCHAR)) AS tlsdetails,
    CAST(ROW(actor.user.type, actor.user.uid, actor.user.account.uid, actor.user.uid_alt, actor.user.name,
        actor.user.credential_uid, actor.invoked_by, ROW(ROW(actor.session.issuer)))
      AS ROW(type VARCHAR, arn VARCHAR, accountid VARCHAR, principalid VARCHAR, username VARCHAR,
        accesskeyid VARCHAR, invokedby VARCHAR, sessioncontext ROW(sessionissuer ROW(arn VARCHAR)))) AS useridentity
  FROM {ocsf_table}) AS ocsf
