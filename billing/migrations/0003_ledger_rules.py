"""Ledger rules enforced by PostgreSQL itself (docs/reliability.md, "Mechanisms"):

- ledger transactions and entries cannot be UPDATEd or DELETEd (a trigger raises);
- at commit, every ledger transaction has at least two entries and its entries sum to zero per
  currency (a deferred constraint trigger), so an unbalanced write can never be committed.

TRUNCATE is not blocked by a trigger because test isolation truncates tables; in production,
REVOKE TRUNCATE, UPDATE, DELETE on these tables from the application role as well (README).
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledgerentry_append_only BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledgertransaction_append_only BEFORE UPDATE OR DELETE ON billing_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx_id uuid;
    n_entries integer;
    bad_currency text;
BEGIN
    IF TG_TABLE_NAME = 'billing_ledgerentry' THEN
        tx_id := NEW.transaction_id;
    ELSE
        tx_id := NEW.id;
    END IF;
    SELECT count(*) INTO n_entries FROM billing_ledgerentry WHERE transaction_id = tx_id;
    IF n_entries < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % entries; at least 2 are required', tx_id, n_entries
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency INTO bad_currency FROM billing_ledgerentry WHERE transaction_id = tx_id
        GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF bad_currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %', tx_id, bad_currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledgerentry_balanced AFTER INSERT ON billing_ledgerentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledgertransaction_balanced AFTER INSERT ON billing_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledgertransaction_balanced ON billing_ledgertransaction;
DROP TRIGGER IF EXISTS ledgerentry_balanced ON billing_ledgerentry;
DROP FUNCTION IF EXISTS ledger_check_balanced();
DROP TRIGGER IF EXISTS ledgertransaction_append_only ON billing_ledgertransaction;
DROP TRIGGER IF EXISTS ledgerentry_append_only ON billing_ledgerentry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
