-- The ledger's posting as one statement (billing.ledger.post), and the database-made ids it uses.
--
-- Installed by billing migrations (0005 and every later one that re-runs this file; see
-- billing/sql.py). Every function is CREATE OR REPLACE, so running the file again is the upgrade.
-- The rules stay the database's own (migration 0003): ledger rows are append-only, a
-- transaction's entries sum to zero per currency (checked at commit), and payables and funds never
-- go into debit (CHECK account_no_overdraft).

-- A time-ordered UUID (RFC 9562 version 7) made in the database: 48 bits of Unix milliseconds,
-- then random bits from gen_random_uuid() with the version bits set to 7.
CREATE OR REPLACE FUNCTION quorum_uuid7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- An account's id by its identity (kind, client, user, currency), created on first use.
CREATE OR REPLACE FUNCTION quorum_account(p_kind text, p_currency text, p_client uuid, p_user uuid, p_now timestamptz)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    SELECT id INTO v_id FROM billing_account
     WHERE kind = p_kind AND currency = p_currency
       AND client_id IS NOT DISTINCT FROM p_client AND user_id IS NOT DISTINCT FROM p_user;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    INSERT INTO billing_account (id, kind, currency, client_id, user_id, balance, created_at)
    VALUES (quorum_uuid7(), p_kind, p_currency, p_client, p_user, 0, p_now)
    ON CONFLICT (kind, client_id, user_id, currency) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN  -- a concurrent transaction created it first (the insert waited for it)
        SELECT id INTO v_id FROM billing_account
         WHERE kind = p_kind AND currency = p_currency
           AND client_id IS NOT DISTINCT FROM p_client AND user_id IS NOT DISTINCT FROM p_user;
    END IF;
    RETURN v_id;
END;
$$;

-- One balanced ledger transaction, once per idempotency key (billing.ledger.post).
-- p_legs: [{"amount": n, "account": uuid} | {"amount": n, "kind", "currency", "client", "user"}].
-- The insert of the transaction row is ON CONFLICT DO NOTHING: a second call with the key returns
-- the first transaction's id and created = false, writing nothing. Cached balances (payables and
-- funds) move in ascending account id order. The database still enforces the rest: entries
-- sum to zero per currency (deferred constraint trigger), rows are append-only, payables and
-- funds never go into debit (CHECK).
CREATE OR REPLACE FUNCTION quorum_ledger_post(
    p_key text, p_kind text, p_client uuid, p_reference text, p_description text, p_project uuid,
    p_project_name text, p_task_type text, p_user uuid, p_reverses uuid, p_now timestamptz, p_legs jsonb,
    OUT tx_id uuid, OUT created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    leg jsonb;
    v_account uuid;
    v_accounts uuid[] := '{}';
    v_amounts bigint[] := '{}';
    v_currencies text[] := '{}';
    v_kinds text[] := '{}';
    i int;
BEGIN
    INSERT INTO billing_ledgertransaction (id, idempotency_key, kind, client_id, reference, description, project_id,
                                           project_name, task_type, user_id, reverses_id, created_at)
    VALUES (quorum_uuid7(), p_key, p_kind, p_client, p_reference, p_description, p_project,
            left(coalesce(p_project_name, ''), 200), coalesce(p_task_type, ''), p_user, p_reverses, p_now)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO tx_id;
    IF tx_id IS NULL THEN
        SELECT id INTO tx_id FROM billing_ledgertransaction WHERE idempotency_key = p_key;
        created := false;
        RETURN;
    END IF;
    created := true;
    FOR leg IN SELECT value FROM jsonb_array_elements(p_legs) LOOP
        IF leg ? 'account' THEN
            v_account := (leg->>'account')::uuid;
        ELSE
            v_account := quorum_account(leg->>'kind', leg->>'currency', (leg->>'client')::uuid, (leg->>'user')::uuid, p_now);
        END IF;
        v_accounts := v_accounts || v_account;
        v_amounts := v_amounts || (leg->>'amount')::bigint;
    END LOOP;
    SELECT array_agg(a.currency ORDER BY x.ord), array_agg(a.kind ORDER BY x.ord)
      INTO v_currencies, v_kinds
      FROM unnest(v_accounts) WITH ORDINALITY x(id, ord) JOIN billing_account a ON a.id = x.id;
    INSERT INTO billing_ledgerentry (transaction_id, account_id, amount, currency, created_at)
    SELECT tx_id, v_accounts[i], v_amounts[i], v_currencies[i], p_now FROM generate_subscripts(v_accounts, 1) i;
    -- Lock the cached accounts in ascending id order (the one lock order of accounts), then move them.
    PERFORM 1 FROM billing_account a
     WHERE a.id = ANY(v_accounts) AND a.kind IN ('annotator_payable', 'client_funds')
     ORDER BY a.id FOR NO KEY UPDATE;
    UPDATE billing_account a SET balance = a.balance + m.amount
      FROM (SELECT x.id, sum(x.amount) AS amount
              FROM unnest(v_accounts, v_amounts, v_kinds) x(id, amount, kind)
             WHERE x.kind IN ('annotator_payable', 'client_funds')
             GROUP BY x.id) m
     WHERE a.id = m.id;
END;
$$;

