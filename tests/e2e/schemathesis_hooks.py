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
