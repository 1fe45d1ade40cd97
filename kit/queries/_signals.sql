-- name: _signals (fragment, included as {sts_signal} by signals.sql and throttled.sql)
-- engines: lake, athena, security-lake
-- returns: the signal of a counted caller STS call, as kit.signals.sts_signal decides it from
--          error_code and error_message ('' for none); the tests are the module's constants
-- parameters: the signal codes {region_disabled}, {throttled}, {signature_region}, {scp_deny} and
--          the error tests {region_disabled_code}, {throttling_codes}, {throttling_message},
--          {signature_code}, {signature_message}, {denied_codes}, {scp_message}
--          (kit.queries.signal_values); strpos(...) = 1 is "starts with", > 0 "contains"
CASE WHEN error_code = {region_disabled_code} THEN {region_disabled}
  WHEN error_code IN ({throttling_codes}) OR strpos(error_message, {throttling_message}) = 1 THEN {throttled}
  WHEN error_code = {signature_code} AND strpos(error_message, {signature_message}) > 0 THEN {signature_region}
  WHEN error_code IN ({denied_codes}) AND strpos(error_message, {scp_message}) > 0 THEN {scp_deny}
  ELSE '' END
