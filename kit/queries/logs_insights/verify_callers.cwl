# name: verify_callers
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: after a fix, one row per checked caller that still called the STS global endpoint:
#          principal (the kit's principal: session issuer role, else the identity ARN, else the
#          role a web-identity or SAML user assumed), global_calls (log events, duplicates
#          included: only whether a row exists matters) and last_call. A fixed caller has no row
#          in a window that starts after the change. Global: endpointType "global", or, without
#          endpointType, the host header sts.amazonaws.com or sts-global.* (kit.events' rule).
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {sts_source}, {account} (12-digit caller account), {principals} (principal ARN literals)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and eventSource = {sts_source}
  and (userIdentity.accountId = {account} or recipientAccountId = {account})
  and (userIdentity.arn in [{principals}] or userIdentity.sessionContext.sessionIssuer.arn in [{principals}]
    or (userIdentity.type in ["WebIdentityUser", "SAMLUser"] and requestParameters.roleArn in [{principals}]))
  and (additionalEventData.RequestDetails.endpointType = "global"
    or (not ispresent(additionalEventData.RequestDetails.endpointType)
      and (tlsDetails.clientProvidedHostHeader = "sts.amazonaws.com"
        or tlsDetails.clientProvidedHostHeader like /^sts-global\./)))
| fields coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn, requestParameters.roleArn) as principal
| stats count(*) as global_calls, max(eventTime) as last_call by principal
