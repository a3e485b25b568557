from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from stores.engines import refused_by_an_engine


def _shop_ready_email(email: str, user: User | None = None) -> str:
    """The address, normalised, once no other account has it and every engine takes it."""
    email = email.strip().lower()
    others = User.objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise forms.ValidationError("An account with this e-mail already exists.")
    # The owner's address becomes their shops' admin e-mail: one a shop refuses
    # would fail the store's setup on every retry.
    reason = refused_by_an_engine(email)
    if reason:
        raise forms.ValidationError(reason)
    return email


class RegistrationForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="Used as the shop admin e-mail of your stores.")

    class Meta:
        model = User
        fields = ("username", "email")

    def clean_email(self):
        return _shop_ready_email(self.cleaned_data["email"])


class EmailChangeForm(forms.Form):
    """A new e-mail, confirmed with the password: a session left open must not hand over the account."""

    email = forms.EmailField(label="New e-mail", help_text="The shop admin e-mail of stores you create from now on.")
    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput)

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_email(self):
        return _shop_ready_email(self.cleaned_data["email"], self.user)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password

    def save(self) -> User:
        self.user.email = self.cleaned_data["email"]
        self.user.save(update_fields=["email"])
        return self.user
