from django.db import migrations, models


class Migration(migrations.Migration):
    # Who holds a store's lease (stores/leaseholder.py): a holder on the same host
    # whose process is gone is taken over without waiting for the lease to run out.

    dependencies = [
        ("stores", "0008_lost_stores"),
    ]

    operations = [
        migrations.AddField(
            model_name="store",
            name="lease_host",
            field=models.CharField(
                blank=True, help_text="The host (name, boot, PID namespace) of the lease's holder.", max_length=255
            ),
        ),
        migrations.AddField(
            model_name="store",
            name="lease_pid",
            field=models.PositiveIntegerField(blank=True, help_text="The lease holder's process id.", null=True),
        ),
        migrations.AddField(
            model_name="store",
            name="lease_pid_started",
            field=models.BigIntegerField(
                blank=True, help_text="When the lease holder's process started (clock ticks after boot).", null=True
            ),
        ),
    ]
