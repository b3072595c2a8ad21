"""The audit log stays append-only, with one way through for erasure requests.

An erasure may replace the subject's values in a row's `detail` (a search term, say) and
nothing else, and only inside a transaction that declared itself an erasure with
`SET LOCAL cdp.audit_redaction = 'on'` (done by `compliance.erasure.audit`, and nowhere else).
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
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('cdp.audit_redaction', true), '') = 'on'
       AND (NEW.id, NEW.user_id, NEW.username, NEW.action, NEW.profile_id, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.user_id, OLD.username, OLD.action, OLD.profile_id, OLD.at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: rows cannot be changed or deleted'
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""

PREVIOUS = """
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
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("compliance", "0006_data_subject_requests")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(PREVIOUS))]
