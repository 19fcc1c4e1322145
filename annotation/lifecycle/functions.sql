-- The task lifecycle's hot paths as PL/pgSQL functions: one round trip each.
--
-- Installed by migrations (annotation 0010 and every later migration that re-runs this file; see
-- annotation/lifecycle/sql.py). Every function is CREATE OR REPLACE, so running the file again is
-- the upgrade. PL/pgSQL resolves table and column names when a function first runs, not when it is
-- created, so the file can be installed before the columns of later migrations exist.
--
-- What each function does is what the Python services did statement by statement before; the
-- Python docstrings of annotation/lifecycle/ say which function backs which service, and README.md
-- in that folder gives the state machine and the lock order, which these functions keep:
--   claim:  annotator -> standing (ProjectWorker) -> task (SKIP LOCKED; a wait on an update
--           chain bounded by lock_timeout) -> budget rows; a project passed over keeps no budget
--           row locked (the budget step's subtransaction)
--   submit: assignment -> task -> the submitter's standing -> ledger accounts (ascending id)
--           -> standings of the round's annotators (ascending id) on completion
-- Nothing here waits on a lock while holding a lock that a path taking them in the other order
-- could hold. quorum_uuid7() and quorum_ledger_post() are billing's (billing/ledger.sql).

-- ISO-8601 UTC with milliseconds and Z, as annotation.payloads.iso renders timestamps.
CREATE OR REPLACE FUNCTION quorum_iso(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN ts IS NULL THEN NULL
                ELSE to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END
$$;

-- The task object as clients see it (annotation.payloads.task_payload, the same keys and values).
CREATE OR REPLACE FUNCTION quorum_task_payload(p_task uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'task_id', t.id::text, 'type', t.task_type, 'status', t.status, 'project', p.name,
               'project_id', t.project_id::text, 'batch', b.name, 'batch_id', t.batch_id::text,
               'instruction', t.instruction, 'params', t.params, 'metadata', t.metadata, 'tags', t.tags,
               'callback_url', t.callback_url, 'priority', t.priority, 'overlap', t.overlap,
               'answers_received', t.answers_received, 'response', t.response, 'confidence', t.confidence,
               'is_test', t.is_test, 'created_at', quorum_iso(t.created_at), 'updated_at', quorum_iso(t.updated_at),
               'completed_at', quorum_iso(t.completed_at))
           || CASE WHEN t.unique_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('unique_id', t.unique_id) END
      FROM annotation_task t
      JOIN annotation_project p ON p.id = t.project_id
      LEFT JOIN annotation_batch b ON b.id = t.batch_id
     WHERE t.id = p_task
$$;

-- Write one event row (core.events.record).
CREATE OR REPLACE FUNCTION quorum_event(p_actor text, p_entity_type text, p_entity uuid, p_kind text, p_before jsonb,
                                        p_after jsonb, p_client uuid, p_now timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO clients_event (created_at, actor, entity_type, entity_id, kind, before, after, client_id)
    VALUES (p_now, p_actor, p_entity_type, p_entity, p_kind, p_before, p_after, p_client)
$$;

-- The claim (annotation.lifecycle.leases.claim): the annotator's live lease, or a new one.
--
-- outcome: 'resumed' | 'claimed' | 'none' (nothing claimable now) | 'not_active' (detail = the
-- annotator's status) | 'quota' (detail = the quota). For 'resumed' and 'claimed' the row carries
-- the assignment and what the annotator sees of the task.
--
-- Per eligible project, in serving order (project priority, then age): a probe without locks says
-- whether the project has a task for this annotator; only then is the standing row locked (or
-- created) and the task claimed, so an eligible project with an empty queue costs one index probe
-- and writes nothing. The claim itself is SELECT ... FOR UPDATE SKIP LOCKED plus a
-- compare-and-set UPDATE (slots_taken < overlap, status pending), backed by the CHECK
-- task_slots_within_overlap; UNIQUE(task, annotator) keeps an annotator off a task they had.
CREATE OR REPLACE FUNCTION quorum_claim(p_annotator uuid, p_project uuid, p_resume boolean, p_now timestamptz,
                                        p_quota integer, p_actor text)
RETURNS TABLE (outcome text, detail text, assignment_id uuid, status text, claim_version integer,
               leased_until timestamptz, claimed_at timestamptz, task_id uuid, task_type text,
               instruction text, params jsonb, instructions text, project_id uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_status text;
    v_live integer;
    r record;
    p record;
    v_gold boolean;
    v_task uuid;
    v_seq integer;
    v_price bigint;
    v_reserved boolean;
    v_standing_id uuid;
    v_standing text;
    v_ok boolean;
    v_assignment uuid;
    -- The claim's wait for a task row (see "The task" below): 1 ms, the least lock_timeout.
    v_lock_timeout text := current_setting('lock_timeout');
BEGIN
    SELECT a.status INTO v_status FROM annotation_annotator a WHERE a.id = p_annotator FOR NO KEY UPDATE;
    IF v_status IS DISTINCT FROM 'active' THEN
        RETURN QUERY SELECT 'not_active'::text, coalesce(v_status, 'unknown'), NULL::uuid, NULL::text, NULL::integer,
            NULL::timestamptz, NULL::timestamptz, NULL::uuid, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::uuid;
        RETURN;
    END IF;

    -- Resume and quota from one read of at most p_quota live leases.
    v_live := 0;
    FOR r IN
        SELECT a.id, a.status, a.claim_version, a.leased_until, a.claimed_at, a.task_id, a.project_id,
               t.task_type, t.instruction, t.params, pr.instructions
          FROM annotation_assignment a
          JOIN annotation_task t ON t.id = a.task_id
          JOIN annotation_project pr ON pr.id = a.project_id
         WHERE a.annotator_id = p_annotator AND a.status = 'active' AND a.leased_until > p_now
         ORDER BY a.claimed_at
         LIMIT p_quota
    LOOP
        v_live := v_live + 1;
        IF p_resume AND (p_project IS NULL OR r.project_id = p_project) THEN
            RETURN QUERY SELECT 'resumed'::text, NULL::text, r.id, r.status::text, r.claim_version, r.leased_until,
                r.claimed_at, r.task_id, r.task_type::text, r.instruction, r.params, r.instructions, r.project_id;
            RETURN;
        END IF;
    END LOOP;
    IF v_live >= p_quota THEN
        RETURN QUERY SELECT 'quota'::text, p_quota::text, NULL::uuid, NULL::text, NULL::integer, NULL::timestamptz,
            NULL::timestamptz, NULL::uuid, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::uuid;
        RETURN;
    END IF;

    -- Eligible projects in serving order that have a task for this annotator: one statement, whose
    -- EXISTS probe (no locks, no writes) is evaluated project by project only as far as the loop
    -- reads, so a claim normally stops at the first project with work. Gold is due at the
    -- project's ratio of this annotator's claims; the served counters read here are current (only
    -- this annotator's claims move them, serialized by the annotator row lock taken first).
    FOR p IN
        SELECT e.*, e.gold_ratio > 0 AND e.served_gold < e.gold_ratio * (e.served_total + 1) AS gold_due, probe.id AS probe
          FROM (
            SELECT pr.id, pr.client_id, pr.lease_seconds, pr.instructions, pr.gold_ratio, pr.serving_order,
                   pr.priority, pr.created_at,
                   coalesce(w.served_total, 0) AS served_total, coalesce(w.served_gold, 0) AS served_gold
              FROM annotation_project pr
              JOIN clients_client c ON c.id = pr.client_id
              LEFT JOIN annotation_projectworker w ON w.project_id = pr.id AND w.annotator_id = p_annotator
             WHERE pr.status = 'active' AND c.is_active
               AND (p_project IS NULL OR pr.id = p_project)
               AND coalesce(w.status, 'active') = 'active'
               AND NOT EXISTS (
                   SELECT 1 FROM annotation_project_required_qualifications rq
                    WHERE rq.project_id = pr.id
                      AND NOT EXISTS (
                          SELECT 1 FROM annotation_annotatorqualification q
                           WHERE q.annotator_id = p_annotator AND q.qualification_id = rq.qualification_id
                             AND q.revoked_at IS NULL))
          ) e
          -- LATERAL ... ORDER BY ... LIMIT 1 (in task_open_queue_idx order) rather than EXISTS: a
          -- semi join may be planned as a hash anti join over all of the annotator's assignments,
          -- which grows with their history; this walks the partial index and probes
          -- UNIQUE(task, annotator) per candidate, and stops at the first.
          CROSS JOIN LATERAL (
               SELECT t.id FROM annotation_task t
                WHERE t.project_id = e.id AND t.status = 'pending' AND t.released AND t.slots_taken < t.overlap
                  AND (NOT t.is_gold OR (e.gold_ratio > 0 AND e.served_gold < e.gold_ratio * (e.served_total + 1)))
                  AND NOT EXISTS (
                      SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = p_annotator)
                ORDER BY t.priority DESC, t.slots_taken, t.created_at
                LIMIT 1) probe
         ORDER BY e.priority DESC, e.created_at
    LOOP
        v_gold := p.gold_due;

        -- The standing gate: lock (or create) the annotator's row in the project. A removal locks
        -- the same row, so it either committed before (we see its status) or waits for us (and then
        -- releases the lease this claim makes).
        SELECT w.id, w.status INTO v_standing_id, v_standing FROM annotation_projectworker w
         WHERE w.annotator_id = p_annotator AND w.project_id = p.id FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            INSERT INTO annotation_projectworker (id, project_id, annotator_id, status, reason, served_total, served_gold,
                                                  gold_answers, gold_score, consensus_answers, consensus_score, flags,
                                                  updated_at)
            VALUES (quorum_uuid7(), p.id, p_annotator, 'active', '', 0, 0, 0, 0, 0, 0, 0, p_now)
            ON CONFLICT (annotator_id, project_id) DO NOTHING
            RETURNING annotation_projectworker.id, annotation_projectworker.status INTO v_standing_id, v_standing;
            IF v_standing_id IS NULL THEN  -- created concurrently (e.g. by a removal): lock that row
                SELECT w.id, w.status INTO v_standing_id, v_standing FROM annotation_projectworker w
                 WHERE w.annotator_id = p_annotator AND w.project_id = p.id FOR NO KEY UPDATE;
            END IF;
        END IF;
        IF v_standing IS DISTINCT FROM 'active' THEN
            CONTINUE;  -- removed or suspended since the project list was read
        END IF;

        -- The task. SKIP LOCKED does not always skip: when the updater of a candidate row commits
        -- while this statement is locking it, PostgreSQL locks the newer versions by following the
        -- update chain, and there it waits (whatever the wait policy) for a transaction holding
        -- the newest one: a submit of that task, which goes on to lock the standings of its round.
        -- This claim holds its standing, so such a wait closed a cycle with completing submits
        -- (they lock task, then standings): submit 1 waiting for this standing, this claim waiting
        -- for submit 2's task, submit 2 waiting for a standing submit 1 holds (README.md, "Lock
        -- order"). So the task statements run under a lock_timeout of 1 ms: a claim caught in that
        -- wait fails with lock_not_available (55P03) at once, rolls back whole (its standing too),
        -- and annotation.lifecycle.leases.claim runs it again; the next snapshot sees the newest
        -- version locked and skips it. Nothing else in these statements waits for a lock.
        PERFORM set_config('lock_timeout', '1ms', true);
        v_task := NULL;
        IF v_gold THEN
            -- Gold, breadth first, on the partial index task_gold_queue_idx.
            WITH candidate AS (
                SELECT t.id, t.spend_reserved FROM annotation_task t
                 WHERE t.project_id = p.id AND t.status = 'pending' AND t.released AND t.slots_taken < t.overlap
                   AND t.is_gold
                   AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = p_annotator)
                 ORDER BY t.slots_taken, t.created_at
                 LIMIT 1 FOR UPDATE OF t SKIP LOCKED)
            UPDATE annotation_task t
               SET slots_taken = t.slots_taken + 1, claim_seq = t.claim_seq + 1, spend_reserved = true, updated_at = p_now
              FROM candidate
             WHERE t.id = candidate.id AND t.slots_taken < t.overlap AND t.status = 'pending'
            RETURNING t.id, t.claim_seq, t.price, candidate.spend_reserved INTO v_task, v_seq, v_price, v_reserved;
            v_gold := v_task IS NOT NULL;
        END IF;
        IF v_task IS NULL AND p.serving_order = 'breadth_first' THEN
            -- Least-answered first (task_open_queue_idx): every task gets its first answer before
            -- any gets its second.
            WITH candidate AS (
                SELECT t.id, t.spend_reserved FROM annotation_task t
                 WHERE t.project_id = p.id AND t.status = 'pending' AND t.released AND t.slots_taken < t.overlap
                   AND NOT t.is_gold
                   AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = p_annotator)
                 ORDER BY t.priority DESC, t.slots_taken, t.created_at
                 LIMIT 1 FOR UPDATE OF t SKIP LOCKED)
            UPDATE annotation_task t
               SET slots_taken = t.slots_taken + 1, claim_seq = t.claim_seq + 1, spend_reserved = true, updated_at = p_now
              FROM candidate
             WHERE t.id = candidate.id AND t.slots_taken < t.overlap AND t.status = 'pending'
            RETURNING t.id, t.claim_seq, t.price, candidate.spend_reserved INTO v_task, v_seq, v_price, v_reserved;
        ELSIF v_task IS NULL THEN
            -- Started first (the default; task_started_queue_idx): tasks that already have an answer
            -- or a lease are finished before new ones are opened, least-answered first among them;
            -- then new tasks in priority and arrival order.
            WITH candidate AS (
                SELECT t.id, t.spend_reserved FROM annotation_task t
                 WHERE t.project_id = p.id AND t.status = 'pending' AND t.released AND t.slots_taken < t.overlap
                   AND NOT t.is_gold
                   AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = p_annotator)
                 ORDER BY t.priority DESC, (t.slots_taken = 0), t.slots_taken, t.created_at
                 LIMIT 1 FOR UPDATE OF t SKIP LOCKED)
            UPDATE annotation_task t
               SET slots_taken = t.slots_taken + 1, claim_seq = t.claim_seq + 1, spend_reserved = true, updated_at = p_now
              FROM candidate
             WHERE t.id = candidate.id AND t.slots_taken < t.overlap AND t.status = 'pending'
            RETURNING t.id, t.claim_seq, t.price, candidate.spend_reserved INTO v_task, v_seq, v_price, v_reserved;
        END IF;
        PERFORM set_config('lock_timeout', v_lock_timeout, true);
        IF v_task IS NULL THEN
            CONTINUE;  -- every candidate was being claimed by someone else at this instant
        END IF;

        -- The first claim of a live task commits its price against the project's budget and the
        -- client's funds plus credit (billing.services.spend_reserve: the same two guarded upserts,
        -- project row first). No room: the claim is undone on the still-locked task row.
        --
        -- The two upserts run in a subtransaction (the BEGIN ... EXCEPTION block) that a refusal
        -- rolls back. An upsert whose WHERE refuses still locks the conflicting row, and the loop
        -- then takes the next project's standing gate: holding the budget or credit row there
        -- inverts the lock order (standing -> budget rows) and deadlocks with a claim that holds
        -- its standing in that project and waits for the credit row, and a completing submit
        -- that holds this annotator's standing there and waits for that claim's (README.md, "Lock
        -- order"). Rolling the subtransaction back releases both rows before the next project.
        IF NOT v_reserved AND v_price > 0 THEN
            v_ok := false;
            BEGIN
                INSERT INTO billing_projectbudget AS b (project_id, client_id, "limit", committed, updated_at)
                VALUES (p.id, p.client_id, NULL, v_price, p_now)
                ON CONFLICT (project_id) DO UPDATE
                   SET committed = b.committed + EXCLUDED.committed, updated_at = EXCLUDED.updated_at
                 WHERE b."limit" IS NULL OR b.committed + EXCLUDED.committed <= b."limit"
                RETURNING true INTO v_ok;
                IF v_ok THEN
                    v_ok := false;
                    INSERT INTO billing_clientcredit AS c (client_id, credit_limit, committed, received, updated_at)
                    VALUES (p.client_id, NULL, v_price, 0, p_now)
                    ON CONFLICT (client_id) DO UPDATE
                       SET committed = c.committed + EXCLUDED.committed, updated_at = EXCLUDED.updated_at
                     WHERE c.credit_limit IS NULL OR c.committed + EXCLUDED.committed <= c.received + c.credit_limit
                    RETURNING true INTO v_ok;
                END IF;
                IF NOT coalesce(v_ok, false) THEN
                    -- No room: undo the budget step (the project's bump too) and release its row locks.
                    RAISE EXCEPTION USING ERRCODE = 'QB001';
                END IF;
            EXCEPTION WHEN SQLSTATE 'QB001' THEN
                v_ok := false;
            END;
            IF NOT coalesce(v_ok, false) THEN
                UPDATE annotation_task SET slots_taken = slots_taken - 1, spend_reserved = false WHERE id = v_task;
                CONTINUE;  -- over the project's budget or the client's funds plus credit: not served
            END IF;
        END IF;

        UPDATE annotation_projectworker
           SET served_total = served_total + 1, served_gold = served_gold + v_gold::int
         WHERE id = v_standing_id;
        v_assignment := quorum_uuid7();
        INSERT INTO annotation_assignment (id, status, claim_version, leased_until, claimed_at, finished_at,
                                           annotator_id, project_id, task_id)
        VALUES (v_assignment, 'active', v_seq, p_now + make_interval(secs => p.lease_seconds), p_now, NULL,
                p_annotator, p.id, v_task);
        PERFORM quorum_event(p_actor, 'assignment', v_assignment, 'assignment.claimed', NULL,
                             jsonb_build_object('task', v_task::text, 'claim_version', v_seq), p.client_id, p_now);
        RETURN QUERY
            SELECT 'claimed'::text, NULL::text, v_assignment, 'active'::text, v_seq,
                   p_now + make_interval(secs => p.lease_seconds), p_now, t.id, t.task_type::text, t.instruction,
                   t.params, p.instructions, p.id
              FROM annotation_task t WHERE t.id = v_task;
        RETURN;
    END LOOP;
    RETURN QUERY SELECT 'none'::text, NULL::text, NULL::uuid, NULL::text, NULL::integer, NULL::timestamptz,
        NULL::timestamptz, NULL::uuid, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::uuid;
END;
$$;

-- Majority vote over single-choice votes (annotation.quality.majority_vote): the most frequent
-- category; ties go to the category listed first in the task's categories, then to the smaller
-- code point string. Confidence = the winner's share of the votes. NULL votes are not counted.
CREATE OR REPLACE FUNCTION quorum_majority_of(p_votes text[], p_categories jsonb,
                                              OUT winner text, OUT confidence double precision)
LANGUAGE sql IMMUTABLE AS $$
    WITH counts AS (
        SELECT v.c, count(*) AS n, sum(count(*)) OVER () AS total
          FROM unnest(p_votes) v(c) WHERE v.c IS NOT NULL GROUP BY v.c
    )
    SELECT counts.c, counts.n::double precision / counts.total::double precision
      FROM counts
      LEFT JOIN LATERAL (
          SELECT min(e.ord) AS ord FROM jsonb_array_elements_text(p_categories) WITH ORDINALITY e(v, ord)
           WHERE e.v = counts.c
      ) rank ON true
     ORDER BY counts.n DESC, rank.ord NULLS LAST, counts.c COLLATE "C"
     LIMIT 1
$$;

-- The same over a task's accepted answers of one round.
CREATE OR REPLACE FUNCTION quorum_majority(p_task uuid, p_round smallint, p_categories jsonb,
                                           OUT winner text, OUT confidence double precision)
LANGUAGE sql STABLE AS $$
    SELECT m.winner, m.confidence
      FROM quorum_majority_of(
               ARRAY(SELECT s.answer->>'category' FROM annotation_submission s
                      WHERE s.task_id = p_task AND s.status = 'accepted' AND s.round = p_round),
               p_categories) m
$$;

-- The submit (annotation.lifecycle.submit.submit): a fenced answer under a live lease.
--
-- Checks the fence first, before writing anything: the assignment row is locked and must be
-- active, of this claim_version, with its lease running, and the task (then locked, NO KEY) must
-- be pending; otherwise outcome names the conflict and nothing changes. Then, in one go: the
-- assignment moves to submitted (or rejected when flagged as too fast), the submission row, the
-- task's counters, the event, the submitter's standing (flags, gold counters; gold of
-- categorization scored here), their confusion counts for gold, the pay posting, and — when the
-- round is complete and the consensus is one SQL can compute (single-choice categorization by
-- majority, no review) — one more slot (dynamic overlap) or the completion: status, response,
-- event, charge, callback outbox row, every round answer's agreement and confusion counts.
--
-- The answer is NOT validated here: the caller validates it against the returned task type and
-- params inside the same transaction and rolls back if it is invalid. What SQL cannot do comes
-- back as flags for the caller, in the same transaction: needs_gold_score (gold of other task
-- types), needs_settle (Python consensus: geometry, rankings, Dawid-Skene, review), rule (the
-- submitter's standing crossed the anti-fraud or gold rule: 'suspend' or 'remove').
CREATE OR REPLACE FUNCTION quorum_submit(p_assignment uuid, p_annotator uuid, p_claim_version integer, p_answer jsonb,
                                         p_now timestamptz, p_actor text)
RETURNS TABLE (outcome text, detail text, submission_id uuid, task_id uuid, task_type text, params jsonb,
               task_status text, needs_gold_score boolean, needs_settle boolean, rule text, deliveries uuid[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    a record;
    t record;
    pr record;
    v_user uuid;
    v_currency text;
    v_flagged boolean;
    v_ms integer;
    v_gold_score double precision;
    v_needs_gold boolean := false;
    v_submission uuid;
    v_answers integer;
    v_slots integer;
    v_overlap integer;
    v_status text;
    w record;
    v_rule text;
    v_simple boolean;
    v_winner text;
    v_confidence double precision;
    v_settle boolean := false;
    v_deliveries uuid[] := '{}';
    v_delivery uuid;
    v_payload jsonb;
    v_leg_cost text;
BEGIN
    SELECT x.id, x.status, x.claim_version, x.leased_until, x.claimed_at, x.task_id, x.project_id
      INTO a FROM annotation_assignment x
     WHERE x.id = p_assignment AND x.annotator_id = p_annotator
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb, NULL::text,
            false, false, NULL::text, NULL::uuid[];
        RETURN;
    END IF;
    IF a.status <> 'active' THEN
        RETURN QUERY SELECT 'lease_lost'::text, a.status::text, NULL::uuid, a.task_id, NULL::text, NULL::jsonb, NULL::text,
            false, false, NULL::text, NULL::uuid[];
        RETURN;
    END IF;
    IF a.claim_version <> p_claim_version THEN
        RETURN QUERY SELECT 'stale_claim'::text, NULL::text, NULL::uuid, a.task_id, NULL::text, NULL::jsonb, NULL::text,
            false, false, NULL::text, NULL::uuid[];
        RETURN;
    END IF;
    IF a.leased_until <= p_now THEN
        RETURN QUERY SELECT 'lease_expired'::text, NULL::text, NULL::uuid, a.task_id, NULL::text, NULL::jsonb, NULL::text,
            false, false, NULL::text, NULL::uuid[];
        RETURN;
    END IF;
    -- Lock order: assignment, then task. NO KEY: inserts of rows referencing the task (this
    -- submission, other annotators' assignments) only need KEY SHARE and must not wait.
    SELECT x.id, x.status, x.task_type, x.params, x.is_gold, x.gold_answer, x.is_test, x.rework_round, x.round_offset,
           x.in_review, x.price, x.pay, x.client_id, x.callback_url, x.overlap
      INTO t FROM annotation_task x WHERE x.id = a.task_id FOR NO KEY UPDATE;
    IF t.status <> 'pending' THEN
        RETURN QUERY SELECT 'task_not_pending'::text, t.status::text, NULL::uuid, t.id, NULL::text, NULL::jsonb, NULL::text,
            false, false, NULL::text, NULL::uuid[];
        RETURN;
    END IF;
    SELECT x.id, x.name, x.min_answer_ms, x.fraud_flag_limit, x.gold_min_answers, x.gold_accuracy_threshold,
           x.consensus_method, x.review_enabled, x.confidence_threshold, x.max_overlap
      INTO pr FROM annotation_project x WHERE x.id = a.project_id;
    SELECT an.user_id INTO v_user FROM annotation_annotator an WHERE an.id = p_annotator;
    SELECT c.currency INTO v_currency FROM clients_client c WHERE c.id = t.client_id;

    v_ms := greatest(0, floor(extract(epoch FROM (p_now - a.claimed_at)) * 1000))::integer;
    v_flagged := pr.min_answer_ms > 0 AND v_ms < pr.min_answer_ms;
    UPDATE annotation_assignment SET status = CASE WHEN v_flagged THEN 'rejected' ELSE 'submitted' END, finished_at = p_now
     WHERE id = a.id;

    IF t.is_gold AND NOT v_flagged THEN
        -- Categorization in its legacy form (``categories``) is scored here; ``taxonomies`` and
        -- every other task type by the task type's own scorer, in Python.
        IF t.task_type = 'categorization' AND NOT (t.params ? 'categories') THEN
            v_needs_gold := true;
        ELSIF t.task_type = 'categorization' AND NOT coalesce((t.params->>'allow_multiple')::boolean, false) THEN
            v_gold_score := CASE WHEN p_answer->'category' = t.gold_answer->'category' THEN 1.0 ELSE 0.0 END;
        ELSIF t.task_type = 'categorization' AND jsonb_typeof(p_answer->'category') = 'array'
              AND jsonb_typeof(t.gold_answer->'category') = 'array' THEN
            SELECT CASE WHEN count(*) FILTER (WHERE ina OR ing) = 0 THEN 1.0
                        ELSE (count(*) FILTER (WHERE ina AND ing))::double precision
                             / (count(*) FILTER (WHERE ina OR ing))::double precision END
              INTO v_gold_score
              FROM (SELECT v, bool_or(src = 'a') AS ina, bool_or(src = 'g') AS ing
                      FROM (SELECT DISTINCT e.v, 'a' AS src FROM jsonb_array_elements(p_answer->'category') e(v)
                            UNION ALL
                            SELECT DISTINCT e.v, 'g' FROM jsonb_array_elements(t.gold_answer->'category') e(v)) s
                     GROUP BY v) per;
        ELSE
            v_needs_gold := true;  -- the task type's own scorer, in Python
        END IF;
    END IF;

    v_submission := quorum_uuid7();
    INSERT INTO annotation_submission (id, answer, status, duration_ms, created_at, annotator_id, assignment_id, task_id,
                                       flagged, round, gold_score)
    VALUES (v_submission, p_answer, CASE WHEN v_flagged THEN 'rejected' ELSE 'accepted' END, v_ms, p_now, p_annotator,
            a.id, t.id, v_flagged, t.rework_round, v_gold_score);

    -- A flagged answer gives its slot back instead of counting.
    IF v_flagged THEN
        UPDATE annotation_task SET slots_taken = slots_taken - 1, updated_at = p_now WHERE id = t.id
        RETURNING answers_received, slots_taken, overlap, status INTO v_answers, v_slots, v_overlap, v_status;
    ELSE
        UPDATE annotation_task SET answers_received = answers_received + 1, updated_at = p_now WHERE id = t.id
        RETURNING answers_received, slots_taken, overlap, status INTO v_answers, v_slots, v_overlap, v_status;
    END IF;
    PERFORM quorum_event(p_actor, 'assignment', a.id,
                         CASE WHEN v_flagged THEN 'assignment.flagged' ELSE 'assignment.submitted' END,
                         '{"status": "active"}'::jsonb,
                         jsonb_build_object('status', CASE WHEN v_flagged THEN 'rejected' ELSE 'submitted' END,
                                            'duration_ms', v_ms),
                         t.client_id, p_now);

    -- The submitter's standing: flags and gold counters, then the rules' thresholds.
    IF v_flagged OR v_gold_score IS NOT NULL THEN
        UPDATE annotation_projectworker
           SET gold_answers = gold_answers + (v_gold_score IS NOT NULL)::int,
               gold_score = gold_score + coalesce(v_gold_score, 0),
               flags = flags + v_flagged::int, updated_at = p_now
         WHERE project_id = pr.id AND annotator_id = p_annotator
        RETURNING annotation_projectworker.status, gold_answers, gold_score, flags INTO w;
        IF FOUND AND w.status = 'active' THEN
            IF v_flagged AND pr.fraud_flag_limit > 0 AND w.flags >= pr.fraud_flag_limit THEN
                v_rule := 'suspend';
            ELSIF v_gold_score IS NOT NULL AND pr.gold_accuracy_threshold > 0 AND w.gold_answers >= pr.gold_min_answers
                  AND w.gold_score / w.gold_answers < pr.gold_accuracy_threshold THEN
                v_rule := 'remove';
            END IF;
        END IF;
        IF v_gold_score IS NOT NULL AND t.task_type = 'categorization' AND t.params ? 'categories'
           AND NOT coalesce((t.params->>'allow_multiple')::boolean, false)
           AND jsonb_typeof(p_answer->'category') = 'string' AND jsonb_typeof(t.gold_answer->'category') = 'string' THEN
            INSERT INTO annotation_confusioncount (project_id, annotator_id, true_label, given, count)
            VALUES (pr.id, p_annotator, left(t.gold_answer->>'category', 200), left(p_answer->>'category', 200), 1.0)
            ON CONFLICT (project_id, annotator_id, true_label, given)
            DO UPDATE SET count = annotation_confusioncount.count + EXCLUDED.count;
        END IF;
    END IF;

    -- The annotator earns the pay the task was created with; gold work and rework after a
    -- client's audit rejection are the platform's cost (billing.services.answer_pay).
    IF NOT t.is_test AND NOT v_flagged AND t.pay > 0 THEN
        v_leg_cost := CASE WHEN t.is_gold OR t.rework_round > 0 THEN 'platform_cost' ELSE 'labor_cost' END;
        PERFORM quorum_ledger_post(
            'submission:' || v_submission || ':pay', 'answer_pay', t.client_id, 'submission:' || v_submission,
            'Accepted answer', pr.id, pr.name, t.task_type, v_user, NULL, p_now,
            jsonb_build_array(
                jsonb_build_object('kind', v_leg_cost, 'currency', v_currency, 'amount', t.pay),
                jsonb_build_object('kind', 'annotator_payable', 'currency', v_currency, 'user', v_user, 'amount', -t.pay)));
    END IF;

    -- All answers of the round in: decide (annotation.lifecycle.complete.settle does the same in Python).
    IF NOT v_flagged AND v_status = 'pending' AND NOT t.is_gold AND NOT t.in_review AND v_answers >= v_overlap THEN
        -- Single-choice categorization in its legacy form (``categories``; ``taxonomies`` is voted
        -- per question in Python), majority vote, no review.
        v_simple := t.task_type = 'categorization' AND NOT coalesce((t.params->>'allow_multiple')::boolean, false)
                    AND pr.consensus_method IN ('auto', 'majority') AND NOT pr.review_enabled
                    AND jsonb_typeof(t.params->'categories') = 'array';
        IF NOT v_simple THEN
            v_settle := true;
        ELSE
            SELECT m.winner, m.confidence INTO v_winner, v_confidence
              FROM quorum_majority(t.id, t.rework_round, t.params->'categories') m;
            IF v_winner IS NULL THEN
                v_settle := true;  -- answers not shaped like categories: the caller's validation refuses it
            ELSIF v_confidence < pr.confidence_threshold AND v_overlap - t.round_offset < pr.max_overlap THEN
                -- Dynamic overlap: one more answer.
                UPDATE annotation_task SET overlap = overlap + 1, updated_at = p_now WHERE id = t.id;
                PERFORM quorum_event('system:consensus', 'task', t.id, 'task.overlap_extended',
                                     jsonb_build_object('overlap', v_overlap),
                                     jsonb_build_object('overlap', v_overlap + 1, 'confidence', v_confidence,
                                                        'threshold', pr.confidence_threshold),
                                     t.client_id, p_now);
            ELSE
                UPDATE annotation_task
                   SET status = 'completed', response = jsonb_build_object('category', v_winner),
                       confidence = v_confidence, completed_at = p_now, updated_at = p_now
                 WHERE id = t.id;
                v_status := 'completed';
                PERFORM quorum_event('system:consensus', 'task', t.id, 'task.completed', '{"status": "pending"}'::jsonb,
                                     jsonb_build_object('status', 'completed', 'confidence', v_confidence),
                                     t.client_id, p_now);
                IF NOT t.is_test AND t.price > 0 THEN
                    PERFORM quorum_ledger_post(
                        'task:' || t.id || ':charge', 'task_charge', t.client_id, 'task:' || t.id, 'Completed task', pr.id,
                        pr.name, t.task_type, NULL, NULL, p_now,
                        jsonb_build_array(
                            jsonb_build_object('kind', 'client_receivable', 'currency', v_currency, 'client', t.client_id,
                                               'amount', t.price),
                            jsonb_build_object('kind', 'platform_revenue', 'currency', v_currency, 'amount', -t.price)));
                END IF;
                IF t.callback_url <> '' THEN
                    v_payload := quorum_task_payload(t.id);
                    v_delivery := quorum_uuid7();
                    INSERT INTO clients_webhookdelivery (id, kind, event_type, dedupe_key, message_id, url, payload, status,
                                                         is_test, attempts, next_attempt_at, last_attempt_at,
                                                         dispatched_at, last_status_code, last_error, delivered_at,
                                                         created_at, client_id, endpoint_id)
                    VALUES (v_delivery, 'task_callback', 'task.completed',
                            'task:' || t.id || ':completed:callback'
                                || CASE WHEN t.rework_round > 0 THEN ':round' || t.rework_round ELSE '' END,
                            'msg_' || replace(gen_random_uuid()::text, '-', ''), t.callback_url,
                            jsonb_build_object('task', v_payload, 'response', v_payload->'response',
                                               'task_id', v_payload->'task_id', 'status', v_payload->'status'),
                            'pending', t.is_test, 0, p_now, NULL, p_now, NULL, '', NULL, p_now, t.client_id, NULL)
                    ON CONFLICT (dedupe_key) DO NOTHING
                    RETURNING clients_webhookdelivery.id INTO v_delivery;
                    IF v_delivery IS NOT NULL THEN
                        v_deliveries := v_deliveries || v_delivery;
                    END IF;
                END IF;
                IF NOT t.is_test THEN
                    -- Each round answer's agreement with the response, and the confusion counts (truth =
                    -- the response). Standings are locked in ascending annotator id, the lock order of
                    -- standings everywhere (the submitter's was not locked before: flagged answers and
                    -- gold tasks never complete a task).
                    PERFORM 1 FROM annotation_projectworker pw
                     WHERE pw.project_id = pr.id AND pw.annotator_id IN (
                           SELECT s.annotator_id FROM annotation_submission s
                            WHERE s.task_id = t.id AND s.status = 'accepted' AND s.round = t.rework_round)
                     ORDER BY pw.annotator_id FOR NO KEY UPDATE;
                    UPDATE annotation_projectworker pw
                       SET consensus_answers = pw.consensus_answers + agg.n, consensus_score = pw.consensus_score + agg.score,
                           updated_at = p_now
                      FROM (SELECT s.annotator_id, count(*) AS n,
                                   sum(CASE WHEN s.answer->>'category' = v_winner THEN 1.0 ELSE 0.0 END) AS score
                              FROM annotation_submission s
                             WHERE s.task_id = t.id AND s.status = 'accepted' AND s.round = t.rework_round
                             GROUP BY s.annotator_id) agg
                     WHERE pw.project_id = pr.id AND pw.annotator_id = agg.annotator_id;
                    INSERT INTO annotation_confusioncount (project_id, annotator_id, true_label, given, count)
                    SELECT pr.id, s.annotator_id, left(v_winner, 200), left(s.answer->>'category', 200), count(*)::double precision
                      FROM annotation_submission s
                     WHERE s.task_id = t.id AND s.status = 'accepted' AND s.round = t.rework_round
                     GROUP BY s.annotator_id, s.answer->>'category'
                     ORDER BY s.annotator_id, s.answer->>'category'
                    ON CONFLICT (project_id, annotator_id, true_label, given)
                    DO UPDATE SET count = annotation_confusioncount.count + EXCLUDED.count;
                END IF;
            END IF;
        END IF;
    END IF;

    RETURN QUERY SELECT 'ok'::text, NULL::text, v_submission, t.id, t.task_type::text, t.params, v_status,
        v_needs_gold, v_settle, v_rule, v_deliveries;
END;
$$;
