"""Local CloudTrail Lake and Athena endpoints on loopback, for tests and workshops.

``python -m kit.localaws lake --port 4599 --data data/samples/trail`` serves the trail files as
an event data store; ``athena`` serves them as the standard CloudTrail table. Point boto3 (or
``sts-kit plan --endpoint-url``) at the printed URL.
"""
