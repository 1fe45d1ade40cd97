"""Policy and token checks of planned moves: does ``aws:RequestedRegion`` change the outcome?

document: parse policy JSON; evaluate: decisions over SCP levels, identity and VPC endpoint
policies; offline/live: where the policies come from; moves: before/after verdicts; annotate:
the plan columns and the summary section.
"""
