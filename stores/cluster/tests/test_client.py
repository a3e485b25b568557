"""Connecting, and turning client exceptions into ClusterError."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError, ClusterUnavailable, connect
from stores.cluster.client import _default_request_timeout, api_errors, status_message, translate

HOST = "https://10.0.0.1:6443"

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: admin
  user: {token: "not-a-real-token"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
"""


def api_exception(status: int, message: str | None = None, reason: str = "Reason") -> ApiException:
    body = json.dumps({"kind": "Status", "message": message}) if message else None
    return ApiException(status=status, reason=reason, body=body)


def test_it_explains_a_missing_kubeconfig(tmp_path):
    with pytest.raises(ClusterUnavailable) as missing:
        connect(str(tmp_path / "nope"))
    assert "does not exist" in str(missing.value)
    assert "KUBECONFIG" in str(missing.value) and "make cluster" in str(missing.value)


def test_it_explains_that_no_kubeconfig_was_found(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterUnavailable, match=r"no kubeconfig found.*KUBECONFIG.*make cluster"):
        connect()


def test_it_explains_an_invalid_kubeconfig(tmp_path):
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(ClusterUnavailable, match=r"kubeconfig is not usable.*make cluster"):
        connect(str(broken))


def test_it_explains_a_kubeconfig_that_is_not_yaml(tmp_path):
    broken = tmp_path / "kubeconfig"
    broken.write_text("users:\n- user: {token: s3cr3t-token\n")
    with pytest.raises(ClusterUnavailable, match=r"kubeconfig is not usable \(invalid YAML at line \d\)") as bad:
        connect(str(broken))
    assert "s3cr3t" not in str(bad.value)


def test_it_connects_lazily_and_reports_an_unreachable_server(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    cluster = connect(str(path), request_timeout=2)  # no request yet
    with pytest.raises(ClusterUnavailable) as unreachable:
        cluster.version()
    message = str(unreachable.value)
    assert "https://127.0.0.1:1" in message and "unreachable" in message
    assert "not-a-real-token" not in message


def test_it_picks_the_requested_context(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.replace("current-context: local", "current-context: other"))
    with pytest.raises(ClusterUnavailable):
        connect(str(path))  # "other" does not exist
    assert connect(str(path), context="local").host == "https://127.0.0.1:1"


def test_it_gives_every_request_a_timeout():
    seen = {}

    class RestClient:
        def request(self, *args, **kwargs):
            seen.update(kwargs)

    api_client = SimpleNamespace(rest_client=RestClient())
    _default_request_timeout(api_client, (3, 3))
    api_client.rest_client.request("GET", "/version")
    assert seen["_request_timeout"] == (3, 3)
    # an explicit timeout (a watch's longer read timeout) is kept
    api_client.rest_client.request("GET", "/watch", _request_timeout=(3, 40))
    assert seen["_request_timeout"] == (3, 40)


@pytest.mark.parametrize("status", [0, 401, 502, 503, 504])
def test_it_calls_connection_and_auth_problems_unavailable(status):
    error = translate(api_exception(status, "boom"), "creating namespace x", HOST)
    assert isinstance(error, ClusterUnavailable)
    assert HOST in str(error) and "creating namespace x" in str(error)


def test_it_uses_the_api_servers_message():
    error = translate(
        api_exception(422, 'Secret "x" is invalid: data[bad key]: Invalid value'), "storing secret x", HOST
    )
    assert type(error) is ClusterError
    assert str(error) == 'storing secret x failed: Secret "x" is invalid: data[bad key]: Invalid value'


def test_it_falls_back_to_the_http_reason():
    assert status_message(ApiException(status=500, reason="Internal Server Error")) == "Internal Server Error"


def test_it_shortens_the_connection_error():
    inner = urllib3.exceptions.NewConnectionError(
        None,
        "HTTPSConnection(host='10.0.0.1', port=6443): Failed to establish a new connection: "
        "[Errno 111] Connection refused",
    )
    outer = urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces", inner)
    error = translate(outer, "listing namespaces", HOST)
    assert isinstance(error, ClusterUnavailable)
    assert str(error).endswith("while listing namespaces: [Errno 111] Connection refused")


def test_it_leaves_unrelated_exceptions_alone():
    with pytest.raises(KeyError):
        with api_errors("doing x", HOST):
            raise KeyError("x")


def test_it_chains_the_original_exception():
    with pytest.raises(ClusterError) as failure:
        with api_errors("doing x", HOST):
            raise api_exception(409, "already exists")
    assert isinstance(failure.value.__cause__, ApiException)
