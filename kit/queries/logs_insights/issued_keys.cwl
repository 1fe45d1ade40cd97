# name: issued_keys
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: the STS calls that handed out one of the access keys {keys} (responseElements.credentials.
#          accessKeyId), one row per distinct event shape as sts_events returns them, plus the issued
#          key: kit.events judges which are counted global issuances (the token join's issuing side)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {sts_source}, {keys} (access key id literals found by token_uses, as many as fit the
#          10,000 characters of a query string)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and eventSource = {sts_source}
  and responseElements.credentials.accessKeyId in [{keys}]
| fields coalesce(eventID, @ptr) as event_key
| stats count(*) as copies by event_key, responseElements.credentials.accessKeyId, eventTime, eventName,
    awsRegion, sourceIPAddress, userAgent, errorCode, errorMessage, recipientAccountId, sharedEventID,
    tlsDetails.clientProvidedHostHeader, userIdentity.type, userIdentity.arn, userIdentity.accountId,
    userIdentity.principalId, userIdentity.userName, userIdentity.invokedBy,
    userIdentity.sessionContext.sessionIssuer.arn, userIdentity.sessionContext.sessionIssuer.userName,
    requestParameters.roleArn, additionalEventData.RequestDetails.endpointType,
    additionalEventData.RequestDetails.awsServingRegion
| stats count(*) as events, sum(copies) as delivered by responseElements.credentials.accessKeyId, eventTime,
    eventName, awsRegion, sourceIPAddress, userAgent, errorCode, errorMessage, recipientAccountId,
    sharedEventID, tlsDetails.clientProvidedHostHeader, userIdentity.type, userIdentity.arn,
    userIdentity.accountId, userIdentity.principalId, userIdentity.userName, userIdentity.invokedBy,
    userIdentity.sessionContext.sessionIssuer.arn, userIdentity.sessionContext.sessionIssuer.userName,
    requestParameters.roleArn, additionalEventData.RequestDetails.endpointType,
    additionalEventData.RequestDetails.awsServingRegion
