from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("stores", "ProvisioningGate").objects.get_or_create(pk=1)
    # The reconcile backstop: fails overdue provisions, resumes work whose
    # worker died and fills free slots. It runs on the "control" cluster.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="reconcile stores",
        defaults={
            "func": "stores.tasks.reconcile",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
            "cluster": "control",
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="reconcile stores").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
