# name: accounts
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: recipientAccountId, events: the log events per account of one slice (how a slice that
#          overflows within one second is cut by account)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
| stats count(*) as events by recipientAccountId
