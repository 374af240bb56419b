"""Conditional requests on analysis results (issue 12): a strong ETag that changes with the result, the overrides,
the engine version and the tenant's zone model; If-None-Match → 304; a PATCH of overrides with a stale If-Match →
412 precondition-failed and nothing stored; the other result reads (versions, lactate steps, progress) alike."""
import pytest

from servicekit.tenancy import tenant_transaction

from measurements.results.models import AnalysisResult

from .conftest import CPET, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def analysed(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "spiro" / "zan_ramp").json()
    imp = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert imp["status"] == "done", imp
    return owner, imp["test"]


def is_strong(etag: str) -> bool:
    return etag.startswith('"') and etag.endswith('"') and len(etag) > 2


def test_analysis_etag_if_none_match_and_what_changes_it(analysed, caller, tenant_a):
    owner, test_id = analysed
    path = f"/api/v1/tests/{test_id}/analysis"
    first = owner.get(path)
    etag = first["ETag"]
    assert first.status_code == 200 and is_strong(etag)
    assert owner.get(path)["ETag"] == etag                                     # the same answer, the same tag
    assert caller(tenant_a, "viewer").get(path)["ETag"] == etag                # whoever reads it
    held = owner.get(path, HTTP_IF_NONE_MATCH=etag)
    assert held.status_code == 304 and held.content == b"" and held["ETag"] == etag
    assert owner.get(path, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304  # a list, weak form
    assert owner.get(path, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    # an override makes a new version: a new tag; the old tag no longer holds
    changed = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json")
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert owner.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert owner.get(path)["ETag"] == changed["ETag"]                          # the PATCH answered the new tag
    # an older version has its own tag, and keeps it
    v1 = owner.get(path + "?version=1")
    assert v1["ETag"] == etag and owner.get(path + "?version=1", HTTP_IF_NONE_MATCH=etag).status_code == 304
    # the engine version and the tenant's zone model are part of the answer, so of its tag
    current = owner.get(path)["ETag"]
    owner.put("/api/v1/tests/settings", {"zone_model": "three_zone"}, format="json")
    rezoned = owner.get(path)
    assert rezoned.json()["zone_model"] == "three_zone" and rezoned["ETag"] != current
    with tenant_transaction(tenant_a):
        AnalysisResult.objects.filter(test_id=test_id).update(engine_version="9.9.9-test")
    assert owner.get(path)["ETag"] not in (current, rezoned["ETag"])


def test_a_patch_with_a_stale_if_match_is_412_and_stores_nothing(analysed):
    owner, test_id = analysed
    path = f"/api/v1/tests/{test_id}/analysis"
    v1 = owner.get(path)["ETag"]
    mine = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json", HTTP_IF_MATCH=v1)
    assert mine.status_code == 200 and mine.json()["version"] == 2
    # a second integrator still holding version 1's tag: refused, nothing stored
    stale = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 11.0}}}, format="json", HTTP_IF_MATCH=v1)
    assert stale.status_code == 412 and stale["Content-Type"] == "application/problem+json"
    assert stale.json()["type"] == "urn:vo2:problem:precondition-failed"
    assert stale.json()["errors"][0]["field"] == "If-Match"
    now = owner.get(path).json()
    assert now["version"] == 2 and now["overrides"]["vt1"]["speed_kmh"] == 12.5
    # the current tag (or *) goes ahead; no If-Match is no condition (428 is not asked for)
    ok = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 11.0}}}, format="json", HTTP_IF_MATCH=mine["ETag"])
    assert ok.status_code == 200 and ok.json()["version"] == 3
    assert owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 11.5}}}, format="json",
                       HTTP_IF_MATCH="*").json()["version"] == 4
    assert owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.0}}}, format="json").json()["version"] == 5


def test_a_change_stored_while_the_patch_computed_is_412(analysed, monkeypatch):
    """If-Match matched when the PATCH began, but another change was stored before this one's result came back."""
    from measurements.results import actions

    owner, test_id = analysed
    path = f"/api/v1/tests/{test_id}/analysis"
    v1 = owner.get(path)["ETag"]
    real_call = actions.call_analysis
    other = []

    def call_then_someone_else_stores(inputs):
        computed = real_call(inputs)
        if not other:
            other.append(None)  # the other PATCH's own call goes straight through
            other[0] = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 11.0}}}, format="json")
        return computed

    monkeypatch.setattr(actions, "call_analysis", call_then_someone_else_stores)
    late = owner.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json", HTTP_IF_MATCH=v1)
    assert other[0].status_code == 200 and other[0].json()["version"] == 2
    assert late.status_code == 412 and late.json()["type"] == "urn:vo2:problem:precondition-failed"
    assert owner.get(path).json()["overrides"]["vt1"]["speed_kmh"] == 11.0


def test_the_other_result_reads_answer_304_to_their_etag(analysed, athlete):
    owner, test_id = analysed
    for path in (f"/api/v1/tests/{test_id}/analysis/versions", f"/api/v1/tests/{test_id}/lactate-steps",
                 f"/api/v1/athletes/{athlete['id']}/progress"):
        first = owner.get(path)
        assert first.status_code == 200 and is_strong(first["ETag"]), path
        assert owner.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304, path
    versions = f"/api/v1/tests/{test_id}/analysis/versions"
    before = owner.get(versions)["ETag"]
    owner.patch(f"/api/v1/tests/{test_id}/analysis", {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json")
    assert owner.get(versions, HTTP_IF_NONE_MATCH=before).status_code == 200


def test_conditions_do_not_open_another_tenants_result_or_a_readers_write(analysed, caller, tenant_a, tenant_b):
    owner, test_id = analysed
    path = f"/api/v1/tests/{test_id}/analysis"
    etag = owner.get(path)["ETag"]
    stranger = caller(tenant_b)
    assert stranger.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 404       # not 304: nothing to confirm
    assert stranger.get(path, HTTP_IF_NONE_MATCH="*").status_code == 404
    assert stranger.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json",
                          HTTP_IF_MATCH=etag).status_code == 404
    viewer = caller(tenant_a, "viewer")
    assert viewer.patch(path, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, format="json",
                        HTTP_IF_MATCH=etag).status_code == 403
    assert owner.get(path).json()["version"] == 1
