"""Connecting to the Kubernetes API and translating its errors.

``ApiGroups`` bundles the typed API groups the cluster layer uses together with
the per-request timeout, so that every call site can pass
``_request_timeout=api.timeout`` and no call can hang a worker forever.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, cast

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse
from kubernetes.config.config_exception import ConfigException

from .errors import ClusterError, ClusterUnavailable

if TYPE_CHECKING:
    from kubernetes.dynamic import DynamicClient

SETUP_HINT = "pass a kubeconfig path in the settings or set KUBECONFIG; for local development run `make cluster`"

# Longest message taken from an API/Helm error; Status messages can embed whole
# object dumps and those do not belong in a UI.
MAX_MESSAGE_CHARS = 600


@dataclass
class ApiGroups:
    """The typed API groups plus the timeouts every call must use."""

    api_client: k8s.ApiClient
    request_timeout: float
    core: k8s.CoreV1Api = field(init=False)
    apps: k8s.AppsV1Api = field(init=False)
    batch: k8s.BatchV1Api = field(init=False)
    networking: k8s.NetworkingV1Api = field(init=False)
    rbac: k8s.RbacAuthorizationV1Api = field(init=False)
    authorization: k8s.AuthorizationV1Api = field(init=False)
    _dynamic: DynamicClient | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.core = k8s.CoreV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.batch = k8s.BatchV1Api(self.api_client)
        self.networking = k8s.NetworkingV1Api(self.api_client)
        self.rbac = k8s.RbacAuthorizationV1Api(self.api_client)
        self.authorization = k8s.AuthorizationV1Api(self.api_client)

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) timeout for ordinary, non-watch requests."""
        return (self.request_timeout, self.request_timeout)

    def watch_timeout(self, server_seconds: int) -> tuple[float, float]:
        """Client-side read timeout for a watch the server ends after
        ``server_seconds``: a little longer, so a silent server is noticed."""
        return (self.request_timeout, server_seconds + self.request_timeout)

    @property
    def host(self) -> str:
        # ApiClient.__init__ is not annotated, so its configuration is Any.
        return cast(str, self.api_client.configuration.host)

    @property
    def dynamic(self) -> DynamicClient:
        # Discovery costs a few requests, so the dynamic client is built on
        # first use only (server_dry_run is the one user).
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            with api_errors("discovering API resources", self.host):
                # kubernetes.dynamic is not annotated.
                self._dynamic = DynamicClient(self.api_client)  # type: ignore[no-untyped-call]
        return self._dynamic

    def to_dict(self, obj: Any) -> dict[str, Any]:
        """A typed model as the plain JSON dict the API server would send."""
        if isinstance(obj, dict):
            return obj
        # sanitize_for_serialization is not annotated; a model serializes to a JSON object.
        return cast("dict[str, Any]", self.api_client.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]


class _ApiObject(Protocol):
    metadata: k8s.V1ObjectMeta | None


def metadata_of(obj: _ApiObject) -> k8s.V1ObjectMeta:
    """The metadata of an object the API server sent. The models make it optional
    (a body being built may leave it out); the server always fills it in."""
    return cast(k8s.V1ObjectMeta, obj.metadata)


def load_api_client(kubeconfig: str | None, context: str | None, request_timeout: float) -> k8s.ApiClient:
    """Build an ApiClient from an explicit kubeconfig, $KUBECONFIG,
    in-cluster service account or ~/.kube/config, in that order."""
    configuration = k8s.Configuration()
    # kubernetes.config is not annotated, hence the ignores on its loaders.
    try:
        if kubeconfig:
            path = os.path.expanduser(kubeconfig)
            if not os.path.isfile(path):
                raise ClusterUnavailable(f"kubeconfig {path} does not exist; {SETUP_HINT}")
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif os.environ.get("KUBECONFIG"):
            # config_file=None lets the library merge a colon-separated
            # $KUBECONFIG list, the way kubectl does.
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        elif os.path.isfile(os.path.expanduser("~/.kube/config")):
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            raise ClusterUnavailable(f"no kubeconfig found: {SETUP_HINT}")
    except ConfigException as exc:
        raise ClusterUnavailable(f"kubeconfig is not usable ({_trim(str(exc))}); {SETUP_HINT}") from exc
    except yaml.YAMLError as exc:
        # PyYAML quotes the offending line, which may hold a token: say
        # where, not what.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ClusterUnavailable(f"kubeconfig is not usable (invalid YAML{where}); {SETUP_HINT}") from exc
    except OSError as exc:
        raise ClusterUnavailable(f"kubeconfig can not be read ({exc.strerror or exc}); {SETUP_HINT}") from exc

    # urllib3 retries connection errors three times by default, which turns a
    # 10 s timeout into 40 s. One retry is enough to ride over a dropped
    # keep-alive connection.
    configuration.retries = 1
    # Readiness waits hold one watch per resource kind at once.
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 16)
    api_client = k8s.ApiClient(configuration)
    _default_request_timeout(api_client, (request_timeout, request_timeout))
    return api_client


def _default_request_timeout(api_client: k8s.ApiClient, timeout: tuple[float, float]) -> None:
    """Give every request without an explicit ``_request_timeout`` this one.

    Our own calls always pass a timeout; this catches the library's, notably
    the dynamic client's API discovery, which would otherwise wait forever
    on a hung API server.
    """
    send: Callable[..., RESTResponse] = api_client.rest_client.request  # not annotated in the client

    def send_with_timeout(*args: Any, **kwargs: Any) -> RESTResponse:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = timeout
        return send(*args, **kwargs)

    # Deliberately replaces the method on this one client instance.
    api_client.rest_client.request = send_with_timeout  # type: ignore[method-assign]


def status_message(exc: ApiException) -> str:
    """The API server's own explanation from an ApiException, trimmed."""
    message = ""
    if exc.body:
        try:
            body = json.loads(exc.body)
        except (TypeError, ValueError):
            body = None
        if isinstance(body, dict):
            message = body.get("message") or body.get("reason") or ""
    if not message:
        message = str(exc.reason or "").strip() or f"HTTP {exc.status}"
    return _trim(message)


def is_status(exc: BaseException, *codes: int) -> TypeGuard[ApiException]:
    return isinstance(exc, ApiException) and exc.status in codes


def translate(exc: BaseException, action: str, host: str) -> ClusterError | None:
    """The ClusterError matching a client-side exception, or None when the
    exception does not come from talking to the API server."""
    if isinstance(exc, ClusterError):
        return exc
    if isinstance(exc, ApiException):
        status = exc.status or 0
        if status == 0:
            return ClusterUnavailable(
                f"Kubernetes API at {host} is unreachable while {action}: {_trim(str(exc.reason or ''))}"
            )
        if status == 401:
            return ClusterUnavailable(
                f"Kubernetes API at {host} rejected the credentials while {action} (401 Unauthorized); {SETUP_HINT}"
            )
        if status in (502, 503, 504):
            return ClusterUnavailable(f"Kubernetes API at {host} is unavailable while {action}: {status_message(exc)}")
        return ClusterError(f"{action} failed: {status_message(exc)}")
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return ClusterUnavailable(f"Kubernetes API at {host} is unreachable while {action}: {_connection_reason(exc)}")
    return None


@contextmanager
def api_errors(action: str, host: str) -> Iterator[None]:
    """Turn client exceptions into ClusterError/ClusterUnavailable.

    ``action`` reads as a gerund ("creating namespace x") and ends up in the
    message. Code inside handles the statuses it expects (404, 409) itself.
    """
    try:
        yield
    except Exception as exc:
        translated = translate(exc, action, host)
        if translated is None or translated is exc:
            raise
        raise translated from exc


def _connection_reason(exc: BaseException) -> str:
    # MaxRetryError wraps the interesting error; its text starts with the
    # pool's repr, so keep only the last ": "-separated part
    # ("[Errno 111] Connection refused", "Read timed out. (read timeout=10)").
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    tail = text.rsplit(": ", 1)[-1].strip()
    return _trim(tail or type(reason).__name__)


def _trim(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
