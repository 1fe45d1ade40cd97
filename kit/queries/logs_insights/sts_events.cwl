# name: sts_events
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: one row per distinct STS event shape: the event's judging inputs (every field kit.events
#          reads for an STS call, by its flattened JSON path), events (distinct eventIDs: R1 dedupe
#          inside the query) and delivered (log events, duplicates included)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {sts_source}, {scope} (optional account filter on recipientAccountId)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and eventSource = {sts_source}{scope}
| fields coalesce(eventID, @ptr) as event_key
| stats count(*) as copies by event_key, eventTime, eventName, awsRegion, sourceIPAddress, userAgent,
    errorCode, recipientAccountId, sharedEventID, tlsDetails.clientProvidedHostHeader,
    userIdentity.type, userIdentity.arn, userIdentity.accountId, userIdentity.principalId,
    userIdentity.userName, userIdentity.invokedBy, userIdentity.sessionContext.sessionIssuer.arn,
    userIdentity.sessionContext.sessionIssuer.userName, requestParameters.roleArn,
    additionalEventData.RequestDetails.endpointType, additionalEventData.RequestDetails.awsServingRegion
| stats count(*) as events, sum(copies) as delivered by eventTime, eventName, awsRegion, sourceIPAddress,
    userAgent, errorCode, recipientAccountId, sharedEventID, tlsDetails.clientProvidedHostHeader,
    userIdentity.type, userIdentity.arn, userIdentity.accountId, userIdentity.principalId,
    userIdentity.userName, userIdentity.invokedBy, userIdentity.sessionContext.sessionIssuer.arn,
    userIdentity.sessionContext.sessionIssuer.userName, requestParameters.roleArn,
    additionalEventData.RequestDetails.endpointType, additionalEventData.RequestDetails.awsServingRegion
