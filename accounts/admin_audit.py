"""What an admin change to a user or a group did, in words for the audit log.

Rights are spelled out (staff and superuser status, each group and permission
added or removed); other fields are named without their values. A password
never is: the change form shows only its hash, read-only, and the set-password
page is recorded as "password set".
"""

from audit import log as audit

FLAGS = ("is_active", "is_staff", "is_superuser")
MANY = ("groups", "user_permissions", "permissions")


def record_user_saved(request, user, form, formsets, change: bool) -> None:
    if not change:
        audit.record(audit.Action.ADD_USER, request=request, detail=f"user {user.get_username()}")
        return
    changes = _form_changes(form) + _inline_changes(formsets)
    if changes:
        audit.record(
            audit.Action.CHANGE_USER, request=request, detail=f"user {user.get_username()}: " + "; ".join(changes)
        )


def record_password_set(request, user) -> None:
    what = "password set" if user.has_usable_password() else "password login disabled"
    audit.record(audit.Action.CHANGE_USER, request=request, detail=f"user {user.get_username()}: {what}")


def record_user_deleted(request, user) -> None:
    rights = [name for name in ("is_staff", "is_superuser") if getattr(user, name)]
    suffix = f" ({', '.join(rights)})" if rights else ""
    audit.record(audit.Action.DELETE_USER, request=request, detail=f"user {user.get_username()}{suffix}")


def record_group_saved(request, group, form, change: bool) -> None:
    if not change:
        permissions = ", ".join(sorted(_label(p) for p in group.permissions.all())) or "none"
        audit.record(audit.Action.ADD_GROUP, request=request, detail=f"group {group.name}: permissions {permissions}")
        return
    changes = _form_changes(form)
    if changes:
        audit.record(audit.Action.CHANGE_GROUP, request=request, detail=f"group {group.name}: " + "; ".join(changes))


def record_group_deleted(request, group) -> None:
    audit.record(audit.Action.DELETE_GROUP, request=request, detail=f"group {group.name}")


def _form_changes(form) -> list[str]:
    changes = []
    for name in form.changed_data:
        if name in FLAGS:
            changes.append(f"{name} {_on_off(form.initial.get(name))} → {_on_off(form.cleaned_data.get(name))}")
        elif name in MANY:
            before = {_label(o) for o in form.initial.get(name) or ()}
            after = {_label(o) for o in form.cleaned_data.get(name) or ()}
            added = [f"+{label}" for label in sorted(after - before)]
            removed = [f"-{label}" for label in sorted(before - after)]
            if added or removed:
                changes.append(f"{name} {' '.join(added + removed)}")
        else:
            changes.append(name)
    return changes


def _inline_changes(formsets) -> list[str]:
    """The store limit, from the profile inline (its old and new value)."""
    changes = []
    for formset in formsets:
        for inline_form in formset.forms:
            for name in inline_form.changed_data:
                before, after = inline_form.initial.get(name), inline_form.cleaned_data.get(name)
                changes.append(f"{name} {_or_default(before)} → {_or_default(after)}")
    return changes


def _label(obj) -> str:
    # A permission as has_perm spells it; a group by its name.
    content_type = getattr(obj, "content_type", None)
    if content_type is not None:
        return f"{content_type.app_label}.{obj.codename}"
    return str(obj)


def _on_off(value) -> str:
    return "on" if value else "off"


def _or_default(value) -> str:
    return "default" if value in (None, "") else str(value)
