"""A fake identity + measurements on one local HTTP server (real sockets, real httpx), for the service's tests.

identity:      POST /api/v1/auth/service-token {"client_id","client_secret","tenant"} → {"access","expires_in"}
measurements:  GET /api/v1/tests/{id}/, /analysis/, /samples/, /lactate-steps/, /api/v1/athletes/{id}/, /progress/
Each tenant's objects are served only to a token issued for that tenant (404 otherwise, as measurements does).
"""
from __future__ import annotations

import threading
import time
import uuid

from servicekit.testing import JsonStandIn

CLIENT_ID, CLIENT_SECRET = "reports", "test-service-secret"


class FakeUpstream:
    def __init__(self):
        self.tokens: dict[str, str] = {}          # token -> tenant
        self.objects: dict[tuple[str, str], object] = {}   # (tenant, path) -> JSON body
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None         # answer every measurements call with this status
        self.revoked: set[str] = set()
        self.stall_next_get: float = 0.0          # hold the next measurements call this long (a worker dies meanwhile)
        self.stalled = threading.Event()

        self.stand_in = JsonStandIn(self._answer)
        self.url = self.stand_in.url

    def _answer(self, request):
        if request.method == "POST":
            return self._service_token(request.json()) if request.path == "/api/v1/auth/service-token" \
                else (404, {"detail": "no route"})
        return self._measurements(request)

    def _service_token(self, body):
        self.token_requests += 1
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return 401, {"type": "urn:vo2:problem:invalid-client"}
        token = "svc-" + uuid.uuid4().hex
        self.tokens[token] = str(body["tenant"])
        return 200, {"access": token, "token_type": "Bearer", "expires_in": 300}

    def _measurements(self, request):
        token = request.bearer
        self.requests.append((token, request.path))
        tenant, user = self.tokens.get(token), None
        if tenant is None and token.count(".") == 2:  # a user's own JWT (signed by the test keys)
            import jwt

            claims = jwt.decode(token, options={"verify_signature": False})
            tenant, user = str(claims.get("tid")), claims
        if tenant is None or token in self.revoked:
            return 401, {"detail": "bad token"}
        if self.fail_with:
            return self.fail_with, {"detail": "failing on purpose"}
        if self.stall_next_get:
            hold, self.stall_next_get = self.stall_next_get, 0.0
            self.stalled.set()
            time.sleep(hold)
        path = request.path.split("?")[0].rstrip("/") + "/"
        if path == "/api/v1/athletes/":  # as measurements scopes it: an athlete user sees their own record
            rows = [b for (t, p), b in self.objects.items() if t == tenant and p.count("/") == 5
                    and p.startswith("/api/v1/athletes/")]
            if user and set(user.get("roles") or []) == {"athlete"}:
                rows = [r for r in rows if str(r.get("user_id")) == str(user.get("sub"))]
            return 200, {"results": rows, "next": None}
        body = self.objects.get((tenant, path))
        if body is None:
            return 404, {"type": "urn:vo2:problem:not-found"}
        return 200, body

    def close(self):
        self.stand_in.close()

    def put(self, tenant_id: str, path: str, body) -> None:
        self.objects[(str(tenant_id), path)] = body

    def link(self, tenant_id: str, athlete_id: str, user_id: str | None) -> None:
        """The lab links (or unlinks) an athlete user to an athlete record."""
        path = f"/api/v1/athletes/{athlete_id}/"
        self.objects[(str(tenant_id), path)] = {**self.objects[(str(tenant_id), path)], "user_id": user_id}

    def add_test(self, tenant_id: str, payload: dict, *, user_id: str | None = None, analysis: bool = True,
                 athlete_id: str | None = None, status: str | None = None, progress: list | None = None,
                 date: str | None = None) -> str:
        """measurements' view of one test from a reference payload; returns the test id. `athlete_id`: another
        test of that athlete; `status`: the stored result's status (e.g. insufficient); `progress`: the athlete's
        /progress points (this test's point is added in date order when it is not there)."""
        test_id, new = str(uuid.uuid4()), athlete_id is None
        athlete_id = athlete_id or str(uuid.uuid4())
        athlete = {**payload["athlete"], "id": athlete_id, "user_id": user_id}
        if not new:
            athlete = self.objects[(str(tenant_id), f"/api/v1/athletes/{athlete_id}/")]
        if date:
            payload = {**payload, "test": {**payload["test"], "date": date}}
        test = {**payload["test"], "id": test_id, "athlete": athlete_id}
        self.put(tenant_id, f"/api/v1/athletes/{athlete_id}/", athlete)
        self.put(tenant_id, f"/api/v1/tests/{test_id}/", test)
        if analysis:
            result = {**payload["result"], "version": 1, "test": test_id,
                      "lactate_thresholds": payload.get("lactate_result")}
            if status:
                result["status"] = status
            self.put(tenant_id, f"/api/v1/tests/{test_id}/analysis/", result)
        self.put(tenant_id, f"/api/v1/tests/{test_id}/samples/",
                 {"test": test_id, "count": len(payload["samples"].get("time_s") or []), "columns": payload["samples"]})
        self.put(tenant_id, f"/api/v1/tests/{test_id}/lactate-steps/",
                 {"test": test_id, "steps": [{**st, "length_s": st.get("length")}
                                             for st in payload.get("lactate_steps") or []]})
        if progress is not None:
            self.put(tenant_id, f"/api/v1/athletes/{athlete_id}/progress/",
                     {"athlete": athlete_id, "meaningful_change_pct": 5.0, "tests": progress})
            return test_id
        if not new:
            return test_id
        self.put(tenant_id, f"/api/v1/athletes/{athlete_id}/progress/", {"athlete": athlete_id, "tests": [
            {"test": str(uuid.uuid4()), "date": "2024-01-10", "modality": test.get("modality"),
             "vo2max_ml_min": 4700.0, "vo2max_ml_kg_min": 70.2, "vt1": {"hr_bpm": 158.0, "speed_kmh": 11.5},
             "vt2": {"hr_bpm": 186.0, "speed_kmh": 17.0}},
            {"test": test_id, "date": test.get("date"), "modality": test.get("modality")}]})
        return test_id
