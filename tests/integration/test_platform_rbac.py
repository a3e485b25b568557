"""Least privilege: the platform's ServiceAccount, as charts/platform grants it, on the local control plane.

The chart's ServiceAccount, RBAC and admission policies are applied for real
(a release name and namespace of this module's own, removed afterwards). Its
rights are checked with SubjectAccessReviews, its limits with real requests
made with a token of that account, and a store is provisioned and deleted by
the platform's own code with nothing but those credentials.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from stores import clients, cluster, credentials, lifecycle, orphans, tasks
from stores.cluster.guardrails import MANAGED_BY_VALUE
from stores.models import Status
from tests.platform import REPO_ROOT
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration]

TEMPLATES = ["templates/serviceaccount.yaml", "templates/rbac.yaml", "templates/admission-policy.yaml"]
SUFFIX = secrets.token_hex(3)
SIMULATE = "localcluster.store-provisioner.io/simulate"  # kwok's stage for a pod (localcluster/stages.yaml)
STORE_LABELS = {"app.kubernetes.io/managed-by": MANAGED_BY_VALUE, "pod-security.kubernetes.io/enforce": "baseline"}


@dataclass(frozen=True)
class PlatformAccount:
    """One of the chart's ServiceAccounts; store_role is the role the platform binds to it in a store."""

    namespace: str
    name: str
    store_role: str
    kubeconfig: Path  # a token of the ServiceAccount, nothing else

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def setting(self) -> str:
        return f"{self.namespace}/{self.name}"


@pytest.fixture(scope="module")
def admin(local_cluster):
    return k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


@pytest.fixture(scope="module")
def installed(local_cluster, admin, tmp_path_factory):
    """charts/platform's ServiceAccounts, RBAC and admission policies, installed and in force:
    the workers' account and the web pods' account."""
    release, namespace = f"rbac{SUFFIX}", f"rbac{SUFFIX}-platform"
    kubectl = [str(local_cluster.bin_dir / "kubectl"), "--kubeconfig", str(local_cluster.kubeconfig)]
    rendered = subprocess.run(
        [
            str(local_cluster.helm),
            "template",
            release,
            str(REPO_ROOT / "charts" / "platform"),
            "--namespace",
            namespace,
            # The stores' domain, as a deployment sets it (the tests' own).
            "--set-string",
            f"config.INGRESS_DOMAIN_SUFFIX={settings.INGRESS_DOMAIN_SUFFIX}",
            *[arg for t in TEMPLATES for arg in ("--show-only", t)],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    core = k8s.CoreV1Api(admin)
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        subprocess.run(
            [*kubectl, "apply", "-n", namespace, "-f", "-"], input=rendered, text=True, check=True, capture_output=True
        )
        account = PlatformAccount(
            namespace=namespace,
            name=release,
            store_role=f"{release}-store-manager",
            kubeconfig=_token_kubeconfig(local_cluster.kubeconfig, core, namespace, release, tmp_path_factory),
        )
        web = PlatformAccount(
            namespace=namespace,
            name=f"{release}-web",
            store_role=f"{release}-store-reader",
            kubeconfig=_token_kubeconfig(local_cluster.kubeconfig, core, namespace, f"{release}-web", tmp_path_factory),
        )
        _wait_until_in_force(admin, account)
        yield account, web
    finally:
        subprocess.run(
            [*kubectl, "delete", "-n", namespace, "--ignore-not-found", "--wait=false", "-f", "-"],
            input=rendered,
            text=True,
            capture_output=True,
        )
        core.delete_namespace(namespace)


@pytest.fixture(scope="module")
def platform(installed):
    """The workers' account: the store manager."""
    return installed[0]


@pytest.fixture(scope="module")
def web(installed):
    """The web pods' account: the store pages' reads."""
    return installed[1]


def _token_kubeconfig(admin_kubeconfig: Path, core, namespace: str, name: str, tmp_path_factory) -> Path:
    """A kubeconfig for the same API server whose only credential is a TokenRequest token."""
    token = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    config = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = config["clusters"][0]
    path = tmp_path_factory.mktemp("platform-account") / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": "platform", "user": {"token": token}}],
                "contexts": [{"name": "platform", "context": {"cluster": cluster["name"], "user": "platform"}}],
                "current-context": "platform",
            }
        )
    )
    path.chmod(0o600)
    return path


def _wait_until_in_force(admin, account: PlatformAccount) -> None:
    """Policies are compiled and bound asynchronously; wait until both refuse what they must."""
    as_platform = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(account.kubeconfig)))

    def refused() -> bool:
        try:
            as_platform.create_namespace({"metadata": {"name": f"rbac{SUFFIX}-probe"}}, dry_run="All")
        except ApiException as exc:
            return exc.status == 403 and "ValidatingAdmissionPolicy" in (exc.body or "")
        return False

    wait_for(refused, timeout=60, what="the admission policy to refuse an unlabelled namespace")
    policies = k8s.AdmissionregistrationV1Api(admin)
    for policy in (
        f"{account.name}-store-namespaces",
        f"{account.name}-store-bindings",
        f"{account.name}-store-ingresses",
        f"{account.name}-store-services",
    ):
        checked = wait_for(
            lambda policy=policy: policies.read_validating_admission_policy(policy).status,
            timeout=30,
            what=f"{policy} to be type-checked",
        )
        # A CEL expression the API server cannot type-check would be reported here.
        assert not (checked.type_checking and checked.type_checking.expression_warnings), checked.type_checking


def _allowed(
    admin,
    account: PlatformAccount,
    verb: str,
    resource: str,
    *,
    group: str = "",
    namespace: str | None = None,
    name: str | None = None,
) -> bool:
    review = k8s.AuthorizationV1Api(admin).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": account.user,
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{account.namespace}",
                    "system:authenticated",
                ],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "namespace": namespace or "",
                    "name": name or "",
                },
            },
        }
    )
    return bool(review.status.allowed)


# What the platform's code does inside a store namespace (stores/cluster/*.py and
# Helm installing the engines' charts: `helm template charts/woocommerce` and
# `charts/medusa` render ConfigMaps, Services, PVCs, Deployments, StatefulSets,
# Jobs, Ingresses and NetworkPolicies; Helm keeps its releases in Secrets).
IN_A_STORE = [
    # store-secret, Helm's release Secrets
    *[(verb, "", "secrets") for verb in ("get", "list", "create", "update", "patch", "delete")],
    # guardrails (create-or-replace) and the store page's quota usage
    *[
        (verb, "", resource)
        for verb in ("get", "list", "create", "update")
        for resource in ("resourcequotas", "limitranges")
    ],
    *[(verb, "networking.k8s.io", "networkpolicies") for verb in ("get", "create", "update", "patch", "delete")],
    # the charts' objects through Helm
    *[
        (verb, "", resource)
        for verb in ("get", "create", "patch", "delete")
        for resource in ("configmaps", "services", "persistentvolumeclaims")
    ],
    *[(verb, "networking.k8s.io", "ingresses") for verb in ("get", "create", "patch", "delete")],
    *[
        (verb, "apps", resource)
        for verb in ("get", "list", "watch", "create", "patch", "delete")
        for resource in ("deployments", "statefulsets")
    ],
    # the setup Job: Helm, the readiness watch, clearing an unfinished one
    *[(verb, "batch", "jobs") for verb in ("get", "list", "watch", "create", "patch", "delete")],
    # readiness and the store page
    *[(verb, "", resource) for verb in ("list", "watch") for resource in ("pods", "events")],
]


def test_it_allows_the_platform_its_cluster_wide_needs(admin, platform):
    for verb in ("create", "get", "list", "watch", "patch", "delete"):
        assert _allowed(admin, platform, verb, "namespaces"), verb
    assert _allowed(
        admin, platform, "bind", "clusterroles", group="rbac.authorization.k8s.io", name=platform.store_role
    )
    # The addresses store egress must not reach: the nodes', the API server's.
    assert _allowed(admin, platform, "list", "nodes")
    assert _allowed(admin, platform, "get", "endpoints", namespace="default", name="kubernetes")
    # Reads only, and no other Service's endpoints.
    assert not _allowed(admin, platform, "patch", "nodes", name="anything")
    assert not _allowed(admin, platform, "list", "endpoints", namespace="default")
    assert not _allowed(admin, platform, "get", "endpoints", namespace="kube-system", name="kube-dns")


def test_it_denies_secrets_and_changes_outside_store_namespaces(admin, platform):
    # Not one secret outside a store: not in kube-system, not in an ordinary
    # namespace, not in the platform's own, not by listing them cluster-wide.
    assert not _allowed(admin, platform, "get", "secrets", namespace="kube-system", name="anything")
    assert not _allowed(admin, platform, "list", "secrets", namespace="kube-system")
    assert not _allowed(admin, platform, "get", "secrets", namespace="default", name="anything")
    assert not _allowed(admin, platform, "get", "secrets", namespace=platform.namespace, name="anything")
    assert not _allowed(admin, platform, "list", "secrets")
    # Nothing else to change there either.
    for verb, group, resource in [
        ("create", "", "pods"),
        ("delete", "apps", "deployments"),
        ("patch", "", "configmaps"),
        ("delete", "", "services"),
    ]:
        assert not _allowed(admin, platform, verb, resource, group=group, namespace="kube-system"), (verb, resource)
    # No other role to hand out, no cluster-wide grants.
    assert not _allowed(
        admin, platform, "bind", "clusterroles", group="rbac.authorization.k8s.io", name="cluster-admin"
    )
    assert not _allowed(admin, platform, "create", "clusterrolebindings", group="rbac.authorization.k8s.io")
    assert not _allowed(admin, platform, "create", "roles", group="rbac.authorization.k8s.io", namespace="default")


def test_it_has_no_rights_in_a_store_namespace_it_was_not_bound_in(admin, platform):
    core = k8s.CoreV1Api(admin)
    name = f"store-rbac{SUFFIX}-unbound"
    core.create_namespace({"metadata": {"name": name, "labels": STORE_LABELS}})
    try:
        # The label alone grants nothing: the rights come with the RoleBinding.
        assert not _allowed(admin, platform, "get", "secrets", namespace=name, name="store-secret")
        assert not _allowed(admin, platform, "create", "deployments", group="apps", namespace=name)
    finally:
        core.delete_namespace(name)


def test_it_refuses_namespaces_and_bindings_outside_stores_at_admission(admin, platform):
    as_platform = k8s_config.new_client_from_config(config_file=str(platform.kubeconfig))
    core, rbac = k8s.CoreV1Api(as_platform), k8s.RbacAuthorizationV1Api(as_platform)
    admin_core = k8s.CoreV1Api(admin)
    unlabelled = f"rbac{SUFFIX}-not-a-store"
    store_ns = f"store-rbac{SUFFIX}-admission"

    def refused(call) -> str:
        with pytest.raises(ApiException) as raised:
            call()
        assert raised.value.status == 403, raised.value.body
        return json.loads(raised.value.body)["message"]

    def binding(namespace: str, role: str, subject: dict) -> dict:
        return {
            "metadata": {"name": "platform-probe"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        }

    own = {"kind": "ServiceAccount", "name": platform.name, "namespace": platform.namespace}
    try:
        # RBAC lets the account create namespaces; admission refuses one that is not a store's.
        message = refused(lambda: core.create_namespace({"metadata": {"name": unlabelled}}))
        assert "labelled app.kubernetes.io/managed-by=store-provisioner" in message
        # Nor may a store namespace drop Pod Security.
        message = refused(
            lambda: core.create_namespace(
                {
                    "metadata": {
                        "name": unlabelled,
                        "labels": {**STORE_LABELS, "pod-security.kubernetes.io/enforce": "privileged"},
                    }
                }
            )
        )
        assert "Pod Security baseline or restricted" in message
        # Labelling an existing namespace as a store's would be the way into it. (A dry
        # run: admission judges it all the same, and a shared kube-system stays as it is.)
        message = refused(
            lambda: core.patch_namespace("kube-system", {"metadata": {"labels": STORE_LABELS}}, dry_run="All")
        )
        assert "only change or delete store namespaces" in message
        message = refused(lambda: core.delete_namespace(platform.namespace, dry_run="All"))
        assert "only change or delete store namespaces" in message

        # RBAC lets the account bind the store manager anywhere; admission only in a store namespace.
        message = refused(
            lambda: rbac.create_namespaced_role_binding("default", binding("default", platform.store_role, own))
        )
        assert "only bind roles in store namespaces" in message
        # In a store namespace, only to itself.
        created = core.create_namespace({"metadata": {"name": store_ns, "labels": STORE_LABELS}})
        assert created.metadata.name == store_ns
        stranger = {"kind": "ServiceAccount", "name": "default", "namespace": store_ns}
        message = refused(
            lambda: rbac.create_namespaced_role_binding(store_ns, binding(store_ns, platform.store_role, stranger))
        )
        assert "only bind the store manager role to its own ServiceAccount" in message
        # The store reader goes to the web pods' account, and the store manager never does.
        web_account = {"kind": "ServiceAccount", "name": f"{platform.name}-web", "namespace": platform.namespace}
        reader = f"{platform.name}-store-reader"
        for role, subject in ((platform.store_role, web_account), (reader, own), (reader, stranger)):
            message = refused(
                lambda role=role, subject=subject: rbac.create_namespaced_role_binding(
                    store_ns, binding(store_ns, role, subject), dry_run="All"
                )
            )
            assert "the store reader role to its web ServiceAccount" in message, (role, subject)
        allowed = rbac.create_namespaced_role_binding(store_ns, binding(store_ns, reader, web_account), dry_run="All")
        assert allowed.role_ref.name == reader
        # And nothing stronger than the store manager (RBAC's escalation check).
        refused(lambda: rbac.create_namespaced_role_binding(store_ns, binding(store_ns, "cluster-admin", own)))
        # A real read of a secret outside a store, with the account's own token.
        assert refused(lambda: core.read_namespaced_secret("anything", "kube-system"))
    finally:
        for name in (unlabelled, store_ns):
            try:
                admin_core.delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


def _refused(call) -> str:
    """The message of a request admission (or RBAC) refuses with 403."""
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 403, raised.value.body
    return json.loads(raised.value.body)["message"]


@pytest.fixture
def bound_store(admin, platform, web):
    """A store namespace where both accounts are bound, as the namespace step binds them."""
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    name = f"store-rbac{SUFFIX}-{secrets.token_hex(2)}"
    core.create_namespace({"metadata": {"name": name, "labels": STORE_LABELS}})
    try:
        for account in (platform, web):
            rbac.create_namespaced_role_binding(
                name,
                {
                    "metadata": {"name": f"bound-{account.name}"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": account.store_role,
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": account.name, "namespace": account.namespace}],
                },
            )
        wait_for(
            lambda: _allowed(admin, platform, "create", "ingresses", group="networking.k8s.io", namespace=name),
            timeout=30,
            what="the store manager's binding to take effect",
        )
        yield name
    finally:
        core.delete_namespace(name)


def _ingress(namespace: str, host: str, annotations: dict[str, str] | None = None, tls_host: str | None = None) -> dict:
    spec: dict = {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "wordpress", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    }
    if tls_host:
        spec["tls"] = [{"hosts": [tls_host], "secretName": "store-tls"}]
    return {"metadata": {"name": "store", "annotations": annotations or {}}, "spec": spec}


def _service(spec: dict) -> dict:
    return {"metadata": {"name": "probe"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}, **spec}}


def _domain_suffix() -> str:
    return settings.INGRESS_DOMAIN_SUFFIX


def test_it_admits_only_the_stores_own_host_on_an_ingress(platform, bound_store):
    net = k8s.NetworkingV1Api(k8s_config.new_client_from_config(config_file=str(platform.kubeconfig)))
    own = f"{bound_store}.{_domain_suffix()}"

    def create(body):
        return net.create_namespaced_ingress(bound_store, body, dry_run="All")

    # The policies are compiled asynchronously: wait until this one refuses.
    wait_for(
        lambda: _refuses(lambda: create(_ingress(bound_store, "platform.example.com"))),
        timeout=60,
        what="the ingress policy to be in force",
    )
    message = _refused(lambda: create(_ingress(bound_store, "platform.example.com")))
    assert f"an Ingress in {bound_store} may only serve its store host, {own}" in message
    # Another store's host, a wildcard, a second TLS name, no host at all: refused.
    other = f"store-someone-else.{_domain_suffix()}"
    for body in (
        _ingress(bound_store, other),
        _ingress(bound_store, f"*.{_domain_suffix()}"),
        _ingress(bound_store, own, tls_host=other),
        {"metadata": {"name": "store"}, "spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}}},
    ):
        assert "may only serve its store host" in _refused(lambda body=body: create(body)), body

    # Controller configuration in annotations: refused, whichever snippet.
    for key in (
        "nginx.ingress.kubernetes.io/server-snippet",
        "nginx.ingress.kubernetes.io/configuration-snippet",
        "nginx.ingress.kubernetes.io/auth-url",
        "traefik.ingress.kubernetes.io/router.middlewares",
    ):
        message = _refused(lambda key=key: create(_ingress(bound_store, own, {key: "x"})))
        assert f"may not carry configuration for the ingress controller: {key}" in message
    # cert-manager: no issuer is configured in the chart's default values, so none at all.
    for key in ("cert-manager.io/cluster-issuer", "cert-manager.io/common-name", "kubernetes.io/tls-acme"):
        message = _refused(lambda key=key: create(_ingress(bound_store, own, {key: "letsencrypt"})))
        assert "the only cert-manager annotation an Ingress may carry" in message

    # The store's own host, in the rule and TLS, with an ordinary annotation: admitted.
    admitted = create(_ingress(bound_store, own, {"nginx.ingress.kubernetes.io/proxy-body-size": "50m"}, tls_host=own))
    assert admitted.spec.rules[0].host == own


def _refuses(call) -> bool:
    try:
        call()
    except ApiException as exc:
        return exc.status == 403 and "ValidatingAdmissionPolicy" in (exc.body or "")
    return False


def test_it_admits_only_cluster_ip_services(platform, bound_store):
    core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(platform.kubeconfig)))

    def create(spec):
        return core.create_namespaced_service(bound_store, _service(spec), dry_run="All")

    wait_for(
        lambda: _refuses(lambda: create({"type": "NodePort"})), timeout=60, what="the service policy to be in force"
    )
    for kind in ("NodePort", "LoadBalancer"):
        message = _refused(lambda kind=kind: create({"type": kind}))
        assert f"must be ClusterIP, not {kind}" in message
    message = _refused(
        lambda: core.create_namespaced_service(
            bound_store,
            {"metadata": {"name": "probe"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}},
            dry_run="All",
        )
    )
    assert "must be ClusterIP, not ExternalName" in message
    message = _refused(lambda: create({"externalIPs": ["203.0.113.10"]}))
    assert "may not have externalIPs" in message

    assert create({}).spec.type == "ClusterIP"
    assert create({"clusterIP": "None"}).spec.cluster_ip == "None"


def test_it_refuses_a_namespace_not_named_store(platform):
    core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(platform.kubeconfig)))
    # Labelled and guarded like a store's, but not named like one.
    message = _refused(
        lambda: core.create_namespace(
            {"metadata": {"name": f"rbac{SUFFIX}-shop", "labels": STORE_LABELS}}, dry_run="All"
        )
    )
    assert "only create, change or delete namespaces named store-*" in message
    created = core.create_namespace(
        {"metadata": {"name": f"store-rbac{SUFFIX}-named", "labels": STORE_LABELS}}, dry_run="All"
    )
    assert created.metadata.name == f"store-rbac{SUFFIX}-named"


def test_the_web_account_reads_a_stores_credentials_and_status_and_changes_nothing(admin, web, bound_store):
    ns = bound_store
    # The store page's reads, in a store where it is bound.
    assert _allowed(admin, web, "get", "secrets", namespace=ns, name="store-secret")
    for resource in ("pods", "events", "resourcequotas"):
        assert _allowed(admin, web, "list", resource, namespace=ns), resource
    # No other Secret (Helm's release records), no listing them, no watch.
    assert not _allowed(admin, web, "get", "secrets", namespace=ns, name="sh.helm.release.v1.store.v1")
    assert not _allowed(admin, web, "list", "secrets", namespace=ns)
    assert not _allowed(admin, web, "watch", "pods", namespace=ns)
    # Nothing to create, change or delete, in the store or anywhere.
    for verb in ("create", "update", "patch", "delete"):
        for group, resource in (
            ("", "secrets"),
            ("", "services"),
            ("", "configmaps"),
            ("", "pods"),
            ("apps", "deployments"),
            ("batch", "jobs"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "networkpolicies"),
            ("rbac.authorization.k8s.io", "rolebindings"),
        ):
            assert not _allowed(admin, web, verb, resource, group=group, namespace=ns), (verb, resource)
        assert not _allowed(admin, web, verb, "namespaces"), verb
    assert not _allowed(admin, web, "bind", "clusterroles", group="rbac.authorization.k8s.io", name=web.store_role)
    # Nothing outside a store it is bound in.
    assert not _allowed(admin, web, "get", "secrets", namespace="kube-system", name="store-secret")
    assert not _allowed(admin, web, "list", "pods")
    assert not _allowed(admin, web, "list", "pods", namespace="kube-system")
    # And for real, with its own token.
    as_web = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(web.kubeconfig)))
    assert as_web.list_namespaced_pod(ns).items == []
    _refused(lambda: as_web.create_namespace({"metadata": {"name": f"store-rbac{SUFFIX}-web"}}, dry_run="All"))
    _refused(lambda: as_web.create_namespaced_service(ns, _service({}), dry_run="All"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_it_provisions_and_deletes_a_store_with_the_platforms_own_credentials(
    alice, admin, platform, web, store_settings, cleanup, tmp_path
):
    store_settings.KUBECONFIG = str(platform.kubeconfig)
    store_settings.PLATFORM_SERVICE_ACCOUNT = platform.setting
    store_settings.PLATFORM_STORE_ROLE = platform.store_role
    store_settings.PLATFORM_WEB_SERVICE_ACCOUNT = web.setting
    store_settings.PLATFORM_WEB_ROLE = web.store_role

    # A first attempt whose setup Job fails, then a retry: the retry runs every
    # step again over what is there (namespace patched, binding kept, guardrails
    # replaced, the failed Job removed, the release upgraded), so the account's
    # verbs for a second pass are used for real too, not only those of a first.
    failing = tmp_path / "setup-fails.yaml"
    failing.write_text(yaml.safe_dump({"setup": {"backoffLimit": 0, "podAnnotations": {SIMULATE: "fail"}}}))
    store_settings.STORE_VALUES_FILES = [str(failing)]
    store = lifecycle.create_store(alice, f"rbac{SUFFIX}", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    tasks.provision(store.pk)
    store.refresh_from_db()
    assert (store.status, store.step) == (Status.FAILED, "workloads"), store.failure_reason
    assert "forbidden" not in store.failure_reason

    store_settings.STORE_VALUES_FILES = []
    lifecycle.request_retry(store.pk)
    assert lifecycle.claim_provision_slots() == [store.pk]
    tasks.provision(store.pk)
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    ns = store.namespace
    assert [str(r["revision"]) for r in clients.helm().history("store", ns)] == ["1", "2"]

    bindings = k8s.RbacAuthorizationV1Api(admin).list_namespaced_role_binding(ns).items
    assert sorted((b.role_ref.name, [(s.kind, s.namespace, s.name) for s in b.subjects]) for b in bindings) == [
        (platform.store_role, [("ServiceAccount", platform.namespace, platform.name)]),
        (web.store_role, [("ServiceAccount", web.namespace, web.name)]),
    ]
    for verb, group, resource in IN_A_STORE:
        assert _allowed(admin, platform, verb, resource, group=group, namespace=ns), (verb, group, resource)

    # Helm's releases are Secrets: listed per store namespace (as reconcile does), never cluster-wide.
    helm = clients.helm()
    assert [(r["name"], r["status"]) for r in helm.list_releases(all_namespaces=False, namespace=ns)] == [
        ("store", "deployed")
    ]
    with pytest.raises(cluster.ClusterError, match="forbidden"):
        helm.list_releases()
    found = orphans.reconcile_orphans()
    assert ns not in found["namespaces"] + found["too_new"]
    # The store page's reads, with the web pods' own account: credentials, pods, Events, quota.
    store_settings.KUBECONFIG = str(web.kubeconfig)
    shown = credentials.credentials_for(store)
    assert shown and all(value for _, value, _ in shown)
    kube = clients.connect()
    assert kube.list_pods(ns) and kube.list_events(ns) and kube.quota_usage(ns)
    store_settings.KUBECONFIG = str(platform.kubeconfig)

    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETED, store.failure_reason
    with pytest.raises(ApiException) as gone:
        k8s.CoreV1Api(admin).read_namespace(ns)
    assert gone.value.status == 404
