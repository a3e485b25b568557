"""A shop admin e-mail every engine takes: the shops' own rules, and the fallback."""

import pytest

from stores.engines import ENGINES, StoreSpec, refused_by_an_engine
from stores.engines.emails import fallback_admin_email, medusa_refuses, wordpress_refuses

# Addresses Django's EmailField accepts.
TAKEN_BY_ALL = ["carol@example.org", "first.last+shop@mail.example.co.uk", "o'brien@example.ie", "x_1@sub-1.example.io"]


@pytest.mark.parametrize("email", TAKEN_BY_ALL)
def test_every_engine_takes_an_ordinary_address(email):
    assert wordpress_refuses(email) is None
    assert medusa_refuses(email) is None
    assert refused_by_an_engine(email) is None


@pytest.mark.parametrize(
    "email, reason",
    [
        ('"carol smith"@example.org', "the part before @ may hold only"),
        ("carol@bücher.example", "the domain may hold only ASCII letters, digits and hyphens"),
        ("a@b.c", "shorter than 6 characters"),
        ("carol@localhost", "the domain has no dot"),
        ("carol@-example.org", "starts or ends with a hyphen"),
        ("carol@example..org", "two dots in a row"),
        ("carol@.example.org", "starts or ends with a dot"),
    ],
)
def test_wordpress_refuses_what_is_email_refuses(email, reason):
    assert reason in wordpress_refuses(email)


@pytest.mark.parametrize(
    "email",
    ['"carol smith"@example.org', "carol@bücher.example", "carol{shop}@example.org", "carol@example.o", "c@10.0.0.1"],
)
def test_medusa_refuses_what_its_admin_sign_in_refuses(email):
    assert medusa_refuses(email) is not None


def test_an_address_one_engine_refuses_is_refused_naming_that_engine():
    # WordPress takes braces in the part before @; Medusa's sign-in form does not.
    assert wordpress_refuses("carol{shop}@example.org") is None

    reason = refused_by_an_engine("carol{shop}@example.org")

    assert reason.startswith("MedusaJS cannot use this address for your shop's admin: ")


def _spec(email):
    host = "store-acme.127.0.0.1.nip.io"
    return StoreSpec("acme", 7, "carol@corp", email, host, f"http://{host}", "nginx")


@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=list(ENGINES))
@pytest.mark.parametrize("email", ["", '"carol smith"@example.org', "carol@bücher.example"])
def test_a_store_whose_owner_has_no_address_its_engine_takes_gets_one_it_does(engine, email):
    # The user name may hold "@" (Django allows it): "<user>@<host>" was no address at all.
    admin = engine.build_secret(_spec(email))["admin-email"]

    assert admin == fallback_admin_email("store-acme.127.0.0.1.nip.io") == "admin@store-acme.127.0.0.1.nip.io"
    assert all(e.refuses_email(admin) is None for e in ENGINES.values())


@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=list(ENGINES))
def test_a_store_keeps_its_owners_address_when_the_engine_takes_it(engine):
    assert engine.build_secret(_spec("carol@example.org"))["admin-email"] == "carol@example.org"
