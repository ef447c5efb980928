-- Version 11 (PostgreSQL), in step with sqlite/0011_rate_leases.sql: a node takes tokens of the shared
-- rate limits in blocks (a lease) and spends them without asking again, so that a busy caller costs
-- the database one round trip per block rather than one per request (docs/scaling.md).

-- As take_rate_tokens (version 10), but each bucket of `wants` above 1 gives as many tokens as it
-- holds up to that (at least one, or the request is refused), and `granted` says how many each gave.
-- A 0 only checks that the bucket holds one; `forced` takes every `wants` whatever the levels (down to
-- empty, never below). take_rate_tokens stays for nodes of version 10 during an upgrade.
CREATE FUNCTION lease_rate_tokens(
    keys TEXT[], per_second DOUBLE PRECISION[], burst DOUBLE PRECISION[],
    wants DOUBLE PRECISION[], forced BOOLEAN,
    OUT admitted BOOLEAN, OUT levels DOUBLE PRECISION[], OUT granted DOUBLE PRECISION[])
LANGUAGE plpgsql AS $$
DECLARE
    now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    level DOUBLE PRECISION;
    i INT;
BEGIN
    admitted := TRUE;
    levels := '{}';
    granted := '{}';
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        IF wants[i] > 0 THEN
            INSERT INTO rate_buckets AS b (key, tokens, at_ms, full_at_ms)
            VALUES (keys[i], burst[i], now_ms, now_ms)
            ON CONFLICT (key) DO UPDATE SET
                tokens = LEAST(burst[i],
                               b.tokens + GREATEST(now_ms - b.at_ms, 0) / 1000.0 * per_second[i]),
                at_ms = GREATEST(b.at_ms, now_ms)
            RETURNING b.tokens INTO level;
        ELSE
            SELECT LEAST(burst[i], b.tokens + GREATEST(now_ms - b.at_ms, 0) / 1000.0 * per_second[i])
              INTO level FROM rate_buckets b WHERE b.key = keys[i];
            level := coalesce(level, burst[i]);
        END IF;
        levels := levels || level;
        granted := granted || 0::DOUBLE PRECISION;
        IF level < 1 THEN
            admitted := FALSE;
        END IF;
    END LOOP;
    IF admitted OR forced THEN
        FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
            IF wants[i] > 0 THEN
                granted[i] := CASE WHEN forced THEN wants[i]
                                   ELSE LEAST(wants[i], GREATEST(floor(levels[i]), 1)) END;
                levels[i] := GREATEST(levels[i] - granted[i], 0);
                UPDATE rate_buckets SET
                    tokens = levels[i],
                    full_at_ms = now_ms + ceil((burst[i] - levels[i]) / per_second[i] * 1000.0)::BIGINT
                WHERE key = keys[i];
            END IF;
        END LOOP;
    END IF;
END $$;
