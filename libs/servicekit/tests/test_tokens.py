"""The token verifier every service and the gateway use: one algorithm family, keys by kid, claims checked."""
import base64
import json
import time

import httpx
import jwt as pyjwt
import pytest

from servicekit.jwt import AuthUnavailable, InvalidToken, JWKSCache, KeysUnavailable, TokenVerifier
from servicekit.testing import SigningKeys


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return SigningKeys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def verifier(keys):
    return TokenVerifier(JWKSCache(keys.jwks_url), issuer="vo2max-identity", audience="vo2max-api", leeway=30)


def test_a_good_token_gives_the_principal(keys, verifier):
    principal = verifier.verify(keys.token(sub="u1", tid="t1", roles=["physiologist"]))
    assert (principal.user_id, principal.tenant_id, principal.roles) == ("u1", "t1", frozenset({"physiologist"}))


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("case, reason", [
    ("garbage", "well-formed"),
    ("expired", "expired"),
    ("not_yet_valid", "not yet valid"),
    ("wrong_aud", "audience"),
    ("wrong_iss", "issuer"),
    ("alg_none", "algorithm"),
    ("hs256_with_public_key", "algorithm"),
    ("unknown_kid", "unknown signing key"),
    ("tampered", "signature"),
    ("not_an_access_token", "not an access token"),
])
def test_bad_tokens_are_refused_with_a_reason(keys, verifier, case, reason):
    now = int(time.time())
    if case == "garbage":
        token = "not.a.jwt"
    elif case == "expired":
        token = keys.token(lifetime=-120)
    elif case == "not_yet_valid":
        token = keys.token(nbf=now + 300)
    elif case == "wrong_aud":
        token = keys.token(aud="someone-else")
    elif case == "wrong_iss":
        token = keys.token(iss="https://evil.example")
    elif case == "alg_none":
        token = _b64({"alg": "none", "typ": "at+jwt", "kid": keys.kid}) + "." + _b64(
            {"sub": "x", "tid": "t", "iss": "vo2max-identity", "aud": "vo2max-api", "exp": now + 60}) + "."
    elif case == "hs256_with_public_key":
        public_pem = keys.private_key.public_key().public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).Encoding.PEM,
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"]).PublicFormat.SubjectPublicKeyInfo)
        header = _b64({"alg": "HS256", "typ": "at+jwt", "kid": keys.kid})
        payload = _b64({"sub": "x", "tid": "t", "iss": "vo2max-identity", "aud": "vo2max-api", "exp": now + 60,
                        "iat": now, "jti": "j"})
        import hashlib, hmac
        signature = base64.urlsafe_b64encode(hmac.new(public_pem, f"{header}.{payload}".encode(),
                                                      hashlib.sha256).digest()).rstrip(b"=").decode()
        token = f"{header}.{payload}.{signature}"
    elif case == "unknown_kid":
        token = keys.token(headers={"kid": "nobody"})
    elif case == "tampered":
        head, payload, sig = keys.token(roles=["viewer"]).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["roles"] = ["owner"]
        token = f"{head}.{_b64(claims)}.{sig}"
    elif case == "not_an_access_token":
        token = keys.token(headers={"typ": "JWT"})
    with pytest.raises(InvalidToken, match=reason):
        verifier.verify(token)


def test_unknown_kid_refetch_is_rate_limited(keys):
    fetches = []

    def fetch():
        fetches.append(1)
        return keys.jwks

    cache = JWKSCache(fetch, refetch_interval=60)
    verifier = TokenVerifier(cache, issuer="vo2max-identity", audience="vo2max-api")
    verifier.verify(keys.token())
    for _ in range(20):
        with pytest.raises(InvalidToken):
            verifier.verify(keys.token(headers={"kid": "rotated-away"}))
    assert len(fetches) == 1


def test_a_rotated_key_is_found_by_one_refetch(tmp_path):
    old, new = SigningKeys(tmp_path / "old"), SigningKeys(tmp_path / "new")
    published = {"keys": list(old.jwks["keys"])}
    cache = JWKSCache(lambda: published, refetch_interval=0)
    verifier = TokenVerifier(cache, issuer="vo2max-identity", audience="vo2max-api")
    assert verifier.verify(old.token(sub="a")).user_id == "a"
    published["keys"] = old.jwks["keys"] + new.jwks["keys"]
    assert verifier.verify(new.token(sub="b")).user_id == "b"
    assert verifier.verify(old.token(sub="c")).user_id == "c"


def test_leeway_is_bounded():
    with pytest.raises(ValueError):
        TokenVerifier(JWKSCache(lambda: {"keys": []}), issuer="i", audience="a", leeway=120)


def test_a_verified_token_is_remembered_until_it_expires(keys, monkeypatch):
    from servicekit.jwt import TokenCache

    cached = TokenVerifier(JWKSCache(keys.jwks_url), issuer="vo2max-identity", audience="vo2max-api", leeway=0,
                           cache=TokenCache(size=2, max_age=60))
    # exp is in whole seconds from a whole-second iat: 3 s of life leave the first check (a JWKS fetch) at least 2 s,
    # even on a loaded machine (1 s left as little as a few ms, and the token was refused as expired at once)
    token = keys.token(sub="u1", tid="t1", lifetime=3)
    first = cached.verify(token)
    with monkeypatch.context() as patched:
        patched.setattr(cached, "verify_claims", lambda t: pytest.fail("verified again"))
        assert cached.verify(token) is first  # answered from the cache, no signature check
    time.sleep(max(0.0, first.claims["exp"] - time.time()) + 1.1)  # past exp: the entry is gone, checked again, refused
    with pytest.raises(InvalidToken, match="expired"):
        cached.verify(token)


def test_the_token_cache_is_bounded(keys):
    from servicekit.jwt import TokenCache

    cache = TokenCache(size=2, max_age=60)
    verifier = TokenVerifier(JWKSCache(keys.jwks_url), issuer="vo2max-identity", audience="vo2max-api", cache=cache)
    tokens = [keys.token(sub=f"u{i}", tid="t1") for i in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert cache.get(tokens[0]) is None and cache.get(tokens[2]).user_id == "u2"


def test_a_failed_first_fetch_is_retried_soon_not_after_the_refetch_interval(keys):
    """bench/load.py on a fresh SaaS system: a service's first JWKS fetch failed (identity busy with a burst of
    logins) and every token was refused as "unknown signing key" for the whole refetch interval. Holding no key, the
    cache asks again after the keyless interval; once it holds keys, unknown kids are rate-limited as before."""
    fetches, failing = [], [True]

    def fetch():
        fetches.append(time.monotonic())
        if failing[0]:
            raise httpx.ConnectTimeout("identity is busy")
        return keys.jwks

    cache = JWKSCache(fetch, refetch_interval=60)
    verifier = TokenVerifier(cache, issuer="vo2max-identity", audience="vo2max-api")
    token = keys.token()
    for _ in range(5):  # within the keyless interval: refused, identity not asked again
        with pytest.raises(InvalidToken, match="signing keys are unavailable"):
            verifier.verify(token)
    assert len(fetches) == 1
    failing[0] = False
    time.sleep(JWKSCache.KEYLESS_INTERVAL_S + 0.05)
    assert verifier.verify(token).user_id  # the next request fetched the keys
    assert len(fetches) == 2
    for _ in range(10):  # holding keys: an unknown kid waits for the refetch interval again
        with pytest.raises(InvalidToken, match="unknown signing key"):
            verifier.verify(keys.token(headers={"kid": "rotated-away"}))
    assert len(fetches) == 2


def test_while_identity_stays_unreachable_it_is_asked_at_most_every_keyless_interval(keys):
    fetches = []

    def fetch():
        fetches.append(1)
        raise httpx.ConnectError("refused")

    cache = JWKSCache(fetch, refetch_interval=60)
    verifier = TokenVerifier(cache, issuer="vo2max-identity", audience="vo2max-api")
    token, deadline, refused = keys.token(), time.monotonic() + 0.6, 0
    while time.monotonic() < deadline:
        with pytest.raises(InvalidToken, match="signing keys are unavailable"):
            verifier.verify(token)
        refused += 1
        time.sleep(0.005)
    assert refused > 30 and 2 <= len(fetches) <= 4, (refused, len(fetches))


def test_the_keys_are_fetched_at_start_while_identity_comes_up(keys):
    """servicekit.jwt.warm_up (a web process at start): the fetch is asked again with growing pauses until identity
    answers, so the first token finds its key held and asks identity nothing."""
    fetches = []

    def fetch():
        fetches.append(time.monotonic())
        if len(fetches) < 3:
            raise httpx.ConnectError("identity is starting")
        return keys.jwks

    cache = JWKSCache(fetch, refetch_interval=60)
    assert cache.prefetch(timeout=10, pause=0.05)
    assert len(fetches) == 3 and fetches[2] - fetches[1] > fetches[1] - fetches[0]  # the pause grows
    verifier = TokenVerifier(cache, issuer="vo2max-identity", audience="vo2max-api")
    assert verifier.verify(keys.token(sub="first")).user_id == "first"
    assert len(fetches) == 3 and cache.prefetch() and len(fetches) == 3  # held: nothing fetched again
    never = JWKSCache(lambda: (_ for _ in ()).throw(httpx.ConnectError("down")), refetch_interval=60)
    started = time.monotonic()
    assert not never.prefetch(timeout=0.3, pause=0.05) and time.monotonic() - started < 1.0


def test_no_key_is_unavailable_only_while_identity_does_not_answer(keys):
    """Unreachable identity: KeysUnavailable (503, the token may be fine). Identity answering with no key at all (a
    fresh identity before its first key): nothing it signed can be valid, an ordinary refusal (401)."""
    answers = [httpx.ConnectError("refused"), {"keys": []}]

    def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    verifier = TokenVerifier(JWKSCache(fetch, refetch_interval=60, keyless_interval=0),
                             issuer="vo2max-identity", audience="vo2max-api")
    token = keys.token()
    with pytest.raises(KeysUnavailable) as unreachable:
        verifier.verify(token)
    assert isinstance(unreachable.value, AuthUnavailable) and "try again" in unreachable.value.detail
    with pytest.raises(InvalidToken, match="unknown signing key") as refused:
        verifier.verify(token)
    assert not isinstance(refused.value, AuthUnavailable)
