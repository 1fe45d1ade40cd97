# name: sts_events
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: one row per distinct STS event shape: the event's judging inputs (every field kit.events
#          reads for an STS call, by its flattened JSON path, errorMessage included), events (distinct
#          eventIDs: R1 dedupe inside the query), delivered (log events, duplicates included) and
#          example_key: the smallest eventID of the row, encoded by {sortable_event_id} (its digits
#          escaped, so that Logs Insights' natural sort order of text is plain text order:
#          kit.queries.cwl.sortable; absent when no event of the row has an eventID)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {sts_source}, {scope} (optional account filter on recipientAccountId), {sortable_event_id}
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and eventSource = {sts_source}{scope}
| fields coalesce(eventID, @ptr) as event_key, {sortable_event_id} as id_key
| stats count(*) as copies by event_key, id_key, eventTime, eventName, awsRegion, sourceIPAddress, userAgent,
    errorCode, errorMessage, recipientAccountId, sharedEventID, tlsDetails.clientProvidedHostHeader,
    userIdentity.type, userIdentity.arn, userIdentity.accountId, userIdentity.principalId,
    userIdentity.userName, userIdentity.invokedBy, userIdentity.sessionContext.sessionIssuer.arn,
    userIdentity.sessionContext.sessionIssuer.userName, requestParameters.roleArn,
    additionalEventData.RequestDetails.endpointType, additionalEventData.RequestDetails.awsServingRegion
| stats count(*) as events, sum(copies) as delivered, min(id_key) as example_key by eventTime, eventName,
    awsRegion, sourceIPAddress, userAgent, errorCode, errorMessage, recipientAccountId, sharedEventID,
    tlsDetails.clientProvidedHostHeader, userIdentity.type, userIdentity.arn, userIdentity.accountId,
    userIdentity.principalId, userIdentity.userName, userIdentity.invokedBy,
    userIdentity.sessionContext.sessionIssuer.arn, userIdentity.sessionContext.sessionIssuer.userName,
    requestParameters.roleArn, additionalEventData.RequestDetails.endpointType,
    additionalEventData.RequestDetails.awsServingRegion
