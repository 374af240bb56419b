"""VO2max Report API gateway: the single public endpoint (token check, routing, limits, request ids, CORS, docs)."""
