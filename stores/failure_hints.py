"""What a failed store's owner can do about it, by the failure's code.

Shown under the reason on the store page and in the failure mail. Read by
code, never from the reason's wording (stores.cluster.FailureCode).
"""

from stores.cluster.errors import FailureCode

FAILURE_HINTS: dict[str, str] = {
    FailureCode.QUOTA: "The store needs more than its namespace's quota allows. An operator can raise the quota.",
    FailureCode.ADMISSION: "The cluster refused one of the store's pods (its resource limits or pod security). "
    "An operator can see which in the Kubernetes events below.",
    FailureCode.IMAGE: "An image the store needs could not be pulled. Retry later; "
    "if it keeps failing, an operator checks the image pins (manage.py stores doctor).",
    FailureCode.OOM: "A container ran out of memory. Retrying gives it the same memory; an operator can raise it.",
    FailureCode.CRASH: "A container kept crashing. Its logs say why; retrying runs the same thing again.",
    FailureCode.CONTAINER: "A container could not be created (a setting or secret it reads). Retry once; "
    "if it fails again, an operator looks at the store's events.",
    FailureCode.SCHEDULING: "No node in the cluster could take one of the store's pods. Retry once nodes are free.",
    FailureCode.SETUP: "The shop's setup failed; the reason above is its last line. Retrying runs it again.",
    FailureCode.ROLLOUT: "A workload stopped making progress. Retrying starts it again.",
    FailureCode.CLUSTER: "The platform could not reach the cluster. Retry once it is back.",
    FailureCode.HELM: "Installing the store's chart failed. Retrying installs it again.",
    FailureCode.NAMESPACE: "The store's namespace was being removed. Retry in a minute.",
    FailureCode.CONFLICT: "The store's namespace is taken by something else. An operator removes it, then retry.",
    FailureCode.DNS: "The store's address does not resolve. An operator points its DNS at the cluster.",
    FailureCode.CHECKOUT: "The store runs, but a test order could not go through; the reason names the call "
    "that failed. Retrying checks again; if it fails again, the shop's admin shows what is missing "
    "(a product in stock, a shipping option, cash on delivery).",
    FailureCode.TIMEOUT: "The store was not ready in time. Retrying continues where it stopped.",
    FailureCode.UNAVAILABLE: "This kind of store cannot be created here yet.",
    FailureCode.INTERNAL: "Something went wrong in the platform itself. Retry; an operator has the details in the log.",
}
