"""Middleware of the platform's own."""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


def htmx_login_redirect(get_response):
    """Send an HTMX request whose session ran out to the login page as a whole page.

    `login_required` answers with a redirect, which htmx follows inside its
    request and would swap the login form into the polled fragment. HX-Redirect
    makes the browser navigate instead, and brings the user back to the page
    they were on (not to the fragment's URL) after logging in.
    """

    def middleware(request):
        response = get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        if response["Location"].split("?", 1)[0] != login_url:
            return response
        back_to = request.htmx.current_url_abs_path or resolve_url(settings.LOGIN_REDIRECT_URL)
        return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': back_to})}")

    return middleware
