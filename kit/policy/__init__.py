"""Policy and token checks of planned moves: does ``aws:RequestedRegion`` change the outcome?

document: parse policy JSON; evaluate: decisions over SCP levels, identity and VPC endpoint
policies; account: what applies to one account; offline/live: where the policies come from;
moves: before/after verdicts; annotate: the plan columns, risk codes and the summary section.
"""
