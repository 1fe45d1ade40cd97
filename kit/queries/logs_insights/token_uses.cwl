# name: token_uses
# language: CloudWatch Logs Insights query language (queryLanguage CWLI)
# returns: the uses of temporary access keys (userIdentity.accessKeyId "ASIA...") in opt-in Regions
#          (kit.regions.is_opt_in: awsRegion not a default Region and shaped like a Region code), any
#          event source, one row per key, awsRegion, errorCode and message_head (the first
#          {message_head} characters of errorMessage: enough for kit.signals.is_rejected): events
#          (uses: distinct sharedEventID, else eventID, so a use logged in two accounts and a
#          duplicate delivery count once), delivered (log events), first_time and last_time (eventTime)
#          and example_key (the smallest eventID of every copy, encoded as in sts_events)
# parameters: {start_ms}, {end_ms} (epoch milliseconds, half-open [start, end) on @timestamp),
#          {default_regions} (string literals), {region_code} (a regular expression), {message_head}
#          (a number), {sortable_event_id}, {scope} (optional account filter on recipientAccountId)
filter toMillis(@timestamp) >= {start_ms} and toMillis(@timestamp) < {end_ms}
  and userIdentity.accessKeyId like /^ASIA/
  and awsRegion not in [{default_regions}] and awsRegion like {region_code}{scope}
| fields coalesce(sharedEventID, eventID, @ptr) as use_key, substr(errorMessage, 0, {message_head}) as message_head,
    {sortable_event_id} as id_key
| stats count(*) as copies, min(eventTime) as use_first, max(eventTime) as use_last, min(id_key) as use_id
    by use_key, userIdentity.accessKeyId, awsRegion, errorCode, message_head
| stats count(*) as events, sum(copies) as delivered, min(use_first) as first_time, max(use_last) as last_time,
    min(use_id) as example_key by userIdentity.accessKeyId, awsRegion, errorCode, message_head
