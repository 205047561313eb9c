"""OAuth 1.0a as an outside implementation signs it: requests-oauthlib / oauthlib (RSA-SHA1), unmodified,
does the whole dance (request token, the user's approval, access token) against a Data Center simulator
and then calls the REST API, with the protocol parameters in the Authorization header and in the query
string (RFC 5849 §3.5.1 and §3.5.3). The simulator verifies with its own code, not jiralink's."""

import re

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY
from requests_oauthlib import OAuth1, OAuth1Session

SERVLET = "/plugins/servlet/oauth"


def session(sim, signature_type, **kw):
    who = sim.identity("oauth1")
    return OAuth1Session(
        who["consumer_key"],
        signature_method=SIGNATURE_RSA,
        rsa_key=who["private_key_pem"],
        signature_type=signature_type,
        **kw,
    )


def dance(sim, signature_type, approver="reader"):
    """The three legs; returns the access token, approved by `approver` (a DC basic identity)."""
    base = sim.base_url
    s = session(sim, signature_type, callback_uri="oob")
    request_token = s.fetch_request_token(f"{base}{SERVLET}/request-token")["oauth_token"]
    who = sim.identity(approver)
    page = requests.get(
        f"{base}{SERVLET}/authorize",
        params={"oauth_token": request_token},
        auth=(who["username"], who["secret"]),
    )
    assert page.status_code == 200, page.text
    verifier = re.search(r'id="verifier">([^<]+)<', page.text).group(1)
    s = session(sim, signature_type, resource_owner_key=request_token, verifier=verifier)
    access = s.fetch_access_token(f"{base}{SERVLET}/access-token")
    assert access["oauth_token"] and access["oauth_token"] != request_token
    return access["oauth_token"]


def signer(sim, token, signature_type, rsa_key=None):
    who = sim.identity("oauth1")
    return OAuth1(
        who["consumer_key"],
        resource_owner_key=token,
        signature_method=SIGNATURE_RSA,
        rsa_key=rsa_key or who["private_key_pem"],
        signature_type=signature_type,
    )


@pytest.mark.parametrize("dance_type", [SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY])
def test_oauthlib_dance_then_api_with_header_and_query_parameters(datacenter, dance_type):
    token = dance(datacenter, dance_type)
    reader = datacenter.identity("reader")["username"]
    api = f"{datacenter.base_url}/rest/api/2"
    for signature_type in (SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY):
        auth = signer(datacenter, token, signature_type)
        me = requests.get(f"{api}/myself", auth=auth)
        assert me.status_code == 200, (signature_type, me.status_code, me.text)
        assert me.json()["name"] == reader, "the access token acts as the user who approved it"
        if signature_type == SIGNATURE_TYPE_QUERY:
            assert "oauth_signature=" in me.request.url and "Authorization" not in me.request.headers
        # A signed query with its own parameters (percent-encoding, spaces, '=' in values).
        found = requests.get(
            f"{api}/search",
            params={"jql": "order by key asc", "maxResults": "3", "fields": "summary,status"},
            auth=auth,
        )
        assert found.status_code == 200, (signature_type, found.text)
        body = found.json()
        assert len(body["issues"]) == 3
        visible = {p["key"] for p in requests.get(f"{api}/project", auth=auth).json()}
        all_keys = {p["key"] for p in datacenter.snapshot()["projects"]}
        assert visible and visible < all_keys, "the reader sees some projects, not all"
        assert {i["key"].split("-")[0] for i in body["issues"]} <= visible


def test_a_signature_by_another_key_or_a_replayed_nonce_is_refused(datacenter):
    token = datacenter.identity("oauth1")["access_token"]
    api = f"{datacenter.base_url}/rest/api/2/myself"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for signature_type in (SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY):
        r = requests.get(api, auth=signer(datacenter, token, signature_type, rsa_key=pem))
        assert r.status_code == 401, (signature_type, r.text)
        assert "signature_invalid" in r.headers.get("WWW-Authenticate", ""), r.headers
    ok = requests.get(api, auth=signer(datacenter, token, SIGNATURE_TYPE_QUERY))
    assert ok.status_code == 200, ok.text
    replay = requests.get(ok.request.url)
    assert replay.status_code == 401
    assert "nonce_used" in replay.headers.get("WWW-Authenticate", "")
