-- Version 10 (PostgreSQL), in step with sqlite/0010_shared_limits.sql: the limits the nodes of one
-- database count together (docs/scaling.md). UNLOGGED: they are not business data, need no WAL and
-- no durability (a crash forgets them, as a restart forgets a single node's), and are never copied.

-- Token buckets of the request rate limits, by key (`ROLE/KIND/VALUE`), on the database's clock.
CREATE UNLOGGED TABLE rate_buckets (
    key        TEXT             PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    at_ms      BIGINT           NOT NULL,
    -- When the bucket is full again: from then on it holds nothing a new one would not, and goes.
    full_at_ms BIGINT           NOT NULL
);
CREATE INDEX rate_buckets_by_full_at ON rate_buckets (full_at_ms);

-- Takes a token from every bucket of `keys` whose `costs` entry is 1 (a 0 only checks it), or from
-- none when one of them has less than one: one atomic round trip per request. Answers whether the
-- request may go and each bucket's level afterwards. Callers pass keys in one order (sorted), so two
-- calls never wait on each other's rows crosswise. `forced` spends (down to empty, never below)
-- whatever the levels: a penalty, or a request counted already.
CREATE FUNCTION take_rate_tokens(
    keys TEXT[], per_second DOUBLE PRECISION[], burst DOUBLE PRECISION[],
    costs DOUBLE PRECISION[], forced BOOLEAN,
    OUT admitted BOOLEAN, OUT levels DOUBLE PRECISION[])
LANGUAGE plpgsql AS $$
DECLARE
    now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    level DOUBLE PRECISION;
    i INT;
BEGIN
    admitted := TRUE;
    levels := '{}';
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        IF costs[i] > 0 THEN
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
        IF level < 1 THEN
            admitted := FALSE;
        END IF;
    END LOOP;
    IF admitted OR forced THEN
        FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
            IF costs[i] > 0 THEN
                levels[i] := GREATEST(levels[i] - costs[i], 0);
                UPDATE rate_buckets SET
                    tokens = levels[i],
                    full_at_ms = now_ms + ceil((burst[i] - levels[i]) / per_second[i] * 1000.0)::BIGINT
                WHERE key = keys[i];
            END IF;
        END LOOP;
    END IF;
END $$;

-- Failed logins by key (a username, an address, a place a user is known at), on the database's clock.
CREATE UNLOGGED TABLE login_failures (
    key           TEXT    PRIMARY KEY,
    count         INTEGER NOT NULL,
    last_ms       BIGINT  NOT NULL,
    wait_until_ms BIGINT  NOT NULL,
    -- When the row counts for nothing any more (its window passed, its wait over).
    expires_ms    BIGINT  NOT NULL
);
CREATE INDEX login_failures_by_expiry ON login_failures (expires_ms);

-- The places (a device, by a hash of its cookie, or an address) each user logged in from.
CREATE UNLOGGED TABLE login_places (
    username TEXT   NOT NULL,
    place    TEXT   NOT NULL,
    until_ms BIGINT NOT NULL,
    PRIMARY KEY (username, place)
);
CREATE INDEX login_places_by_until ON login_places (until_ms);
