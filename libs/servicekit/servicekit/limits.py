"""Sizes of free text the product accepts, one list for every service (issue 12: a 5 MiB note was accepted).

The request body limit (MAX_JSON_BODY_BYTES) bounds a request, not a field: each free-text field has its own limit,
set on the model or serializer, and a longer value is a 400 `validation-error` naming the field and the limit.
"""
NOTES = 10_000       # an athlete's or a test's notes
CONCLUSION = 4_000   # the physiologist's conclusion printed on a report
NAME = 100           # a first or last name, a sport (the columns are varchar(100))
DESCRIPTION = 500    # a webhook's description
