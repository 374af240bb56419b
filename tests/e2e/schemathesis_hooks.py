"""schemathesis hooks for test_openapi_conformance.py (SCHEMATHESIS_HOOKS=schemathesis_hooks).

A list's `cursor` is opaque: a client only ever sends the one a list handed out in `next` or `previous`, and any
other string is 400 `invalid-cursor` (test_edges.py holds forged cursors to that). A schema cannot describe which
strings a server minted, so the generated requests leave the cursor out; `page_size` and the filters stay in."""
import schemathesis


@schemathesis.hook
def map_query(context, query):
    if isinstance(query, dict) and "cursor" in query:
        return {name: value for name, value in query.items() if name != "cursor"}
    return query


# Bounds that move with the clock, which JSON Schema has no way to state: a birth date (from 1900) and a test's date
# (from 1950) are not in the future, an API key's expiry is. A generated date outside is replaced by one inside, the
# rest of the body kept.
PAST = {"birth_date": "1900-01-01", "date": "1950-01-01"}
CLOCK_BOUNDS = {"/api/v1/athletes/": "birth_date", "/api/v1/athletes/{id}/": "birth_date",
                "/api/v1/tests/": "date", "/api/v1/tests/{id}/": "date",
                "/api/v1/tenants/current/api-keys/": "expires_at"}


@schemathesis.hook
def map_body(context, body):
    import datetime as dt

    field = CLOCK_BOUNDS.get(context.operation.path)
    if not field or not isinstance(body, dict) or not isinstance(body.get(field), str):
        return body
    now = dt.datetime.now(dt.timezone.utc)
    if field in PAST and not PAST[field] <= body[field] <= now.date().isoformat():
        return {**body, field: "1998-10-04"}
    if field not in PAST and body[field] < (now + dt.timedelta(days=1)).isoformat():
        return {**body, field: (now + dt.timedelta(days=30)).isoformat().replace("+00:00", "Z")}
    return body
