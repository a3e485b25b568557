"""What error reports may show: no credentials, whatever a setting is called."""

import re

from django.views.debug import SafeExceptionReporterFilter

# A URL with user information (`scheme://user:password@host`, `redis://:password@host`,
# `https://token@host`): the part before "@" is a credential.
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+@", re.IGNORECASE)


class CredentialFilter(SafeExceptionReporterFilter):
    """Django's filter, which hides settings and request headers by name, and
    also any string value holding a URL with credentials (settings, nested
    dicts and lists, and the request's META, which under some servers carries
    the process environment)."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str) and URL_WITH_CREDENTIALS.search(cleansed):
            return self.cleansed_substitute
        return cleansed
