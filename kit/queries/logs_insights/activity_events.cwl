# name: activity_events
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: one row per distinct non-STS event shape (no time: the window is the slice): the event's
#          source, Region, accounts and identity, agent_head (first 13 characters of userAgent, enough
#          for "aws-internal/"), ip_kind (1: sourceIPAddress names an amazonaws.com host, 2: it is
#          "AWS Internal"), events (distinct eventIDs) and delivered (log events, duplicates included)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {sts_source}, {scope} (optional account filter on recipientAccountId)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and (not ispresent(eventSource) or eventSource != {sts_source}){scope}
| fields coalesce(eventID, @ptr) as event_key, substr(userAgent, 0, 13) as agent_head,
    strcontains(sourceIPAddress, ".amazonaws.com") + 2 * strcontains(sourceIPAddress, "AWS Internal") as ip_kind
| stats count(*) as copies by event_key, eventSource, awsRegion, recipientAccountId, agent_head, ip_kind,
    userIdentity.type, userIdentity.arn, userIdentity.accountId, userIdentity.principalId,
    userIdentity.userName, userIdentity.invokedBy, userIdentity.sessionContext.sessionIssuer.arn,
    userIdentity.sessionContext.sessionIssuer.userName
| stats count(*) as events, sum(copies) as delivered by eventSource, awsRegion, recipientAccountId,
    agent_head, ip_kind, userIdentity.type, userIdentity.arn, userIdentity.accountId,
    userIdentity.principalId, userIdentity.userName, userIdentity.invokedBy,
    userIdentity.sessionContext.sessionIssuer.arn, userIdentity.sessionContext.sessionIssuer.userName
