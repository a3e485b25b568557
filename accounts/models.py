from django.conf import settings
from django.db import models


class Profile(models.Model):
    """Per-user settings an operator can change in the admin."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    store_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many live stores this user may have. Empty means the default (MAX_STORES_PER_USER).",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @property
    def effective_store_limit(self) -> int:
        if self.store_limit is None:
            return settings.MAX_STORES_PER_USER
        return self.store_limit


def store_limit_for(user) -> int:
    """The number of live stores `user` may own."""
    profile = Profile.objects.filter(user=user).first()
    return profile.effective_store_limit if profile else settings.MAX_STORES_PER_USER
