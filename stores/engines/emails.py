"""Which addresses a shop takes as its admin's e-mail, engine by engine.

Django's EmailField accepts addresses the shops refuse (quoted local parts,
internationalised domains). Such an owner's store would fail its setup on
every retry (`wp core install` refuses it), or install with an admin who cannot
sign in (Medusa's admin login form checks the address). So sign-up and the
profile page ask every engine (`refused_by_an_engine`), and a store whose
owner's address its engine refuses gets `admin@<store host>` instead.

Each rule restates the shop's own check, which cannot be imported from PHP or
JavaScript; the tests hold each to addresses the shop is known to take or refuse.
"""

import re
from collections.abc import Callable

# WordPress's is_email() (wp-includes/formatting.php), step by step.
_WP_LOCAL = re.compile(r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+")
_WP_SUBDOMAIN = re.compile(r"[a-z0-9-]+", re.IGNORECASE)
# PHP's trim() default characters.
_PHP_SPACE = " \t\n\r\0\x0b"


def wordpress_refuses(email: str) -> str | None:
    """Why WordPress's is_email() refuses the address, or None when it takes it."""
    if len(email) < 6:
        return "it is shorter than 6 characters"
    if email.find("@", 1) == -1:
        return "it has no @ after its first character"
    local, domain = email.split("@", 1)
    if not _WP_LOCAL.fullmatch(local):
        return "the part before @ may hold only letters, digits and !#$%&'*+/=?^_`{|}~.-"
    if ".." in domain:
        return "the domain has two dots in a row"
    if domain.strip(_PHP_SPACE + ".") != domain:
        return "the domain starts or ends with a dot"
    labels = domain.split(".")
    if len(labels) < 2:
        return "the domain has no dot"
    for label in labels:
        if label.strip(_PHP_SPACE + "-") != label:
            return "a part of the domain starts or ends with a hyphen"
        if not _WP_SUBDOMAIN.fullmatch(label):
            return "the domain may hold only ASCII letters, digits and hyphens"
    return None


# zod's email check (zod 4), which Medusa's admin sign-in form applies.
_ZOD_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}", re.ASCII
)


def medusa_refuses(email: str) -> str | None:
    """Why Medusa's admin sign-in would refuse the address, or None when it takes it."""
    if _ZOD_EMAIL.fullmatch(email):
        return None
    return (
        "Medusa's admin sign-in takes only ASCII letters, digits and _'+-. before @, "
        "and a domain of ASCII letters, digits and hyphens ending in a name of 2 letters or more"
    )


def accepts_any(email: str) -> None:
    """An engine that takes any address Django does."""
    return None


def admin_email(owner_email: str, host: str, refuses: Callable[[str], str | None]) -> str:
    """The store's admin e-mail: the owner's when the engine takes it, else the fallback."""
    if owner_email and refuses(owner_email) is None:
        return owner_email
    return fallback_admin_email(host)


def fallback_admin_email(host: str) -> str:
    """The admin e-mail of a store whose owner has none its engine takes: one every engine takes."""
    return f"admin@{host}"
