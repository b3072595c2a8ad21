"""The audit log is append-only in the database itself, on PostgreSQL.

A row may not be changed or deleted, by the product or by anyone with SQL access through it.
One change is let through: Django setting `user_id` to NULL when that user is deleted (the row
keeps the user name). Emptying a whole table with TRUNCATE (test teardown) fires no row trigger.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION compliance_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id IS NULL
       AND (NEW.id, NEW.username, NEW.action, NEW.profile_id, NEW.detail, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.username, OLD.action, OLD.profile_id, OLD.detail, OLD.at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: rows cannot be changed or deleted'
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER compliance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_auditevent_append_only();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_consent_once_per_event")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
