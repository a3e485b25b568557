"""/healthz: 200 while the database answers, 503 when it does not; never the cluster."""

import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

URL = "/healthz"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_it_answers_ok_with_one_query(client, settings, tmp_path):
    # No cluster anywhere: the check must not need one.
    settings.KUBECONFIG = str(tmp_path / "missing-kubeconfig")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert [q["sql"] for q in queries] == ["SELECT 1"]
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_needs_no_login(client):
    # Probes come without a session: no redirect to the login page.
    assert client.get(URL).status_code == 200


@pytest.mark.django_db
def test_it_refuses_post(client):
    assert client.post(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_does_not(client, caplog):
    # A real connection failure: the connection is reopened with settings that
    # point nowhere (a directory that does not exist, a port nobody listens on).
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-healthz-dir/db.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        response = client.get(URL)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    assert response.content == b"database unavailable\n"
    assert "the database does not answer" in caplog.text
