/**
 * Numbered schema migrations, applied in order inside one transaction each.
 * Never edit a released migration: add the next number. PRAGMA user_version
 * holds the number applied last.
 */
export const migrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'inspections, review decisions, outbox',
    sql: `
      CREATE TABLE inspection (
        id            TEXT PRIMARY KEY,           -- ULID: time-ordered, the API's cursor
        part_id       TEXT NOT NULL,
        station       TEXT NOT NULL,
        triggered_at  INTEGER NOT NULL,           -- ms since epoch (UTC)
        trigger       TEXT NOT NULL,
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        findings      TEXT NOT NULL,              -- JSON Finding[]
        defect_score  REAL,
        model_verdict TEXT,
        verdict       TEXT,
        defect_class  TEXT,
        decided_by    TEXT,
        reason        TEXT NOT NULL,
        audit         INTEGER NOT NULL DEFAULT 0,
        state         TEXT NOT NULL,
        error_code    TEXT,
        timings       TEXT NOT NULL,              -- JSON StageTimings
        image_ref     TEXT,                       -- path under the image store, NULL once pruned
        image_bytes   INTEGER NOT NULL DEFAULT 0,
        source_ref    TEXT,
        truth         TEXT,                       -- JSON GroundTruth (synthetic line only)
        updated_at    INTEGER NOT NULL
      );
      CREATE INDEX inspection_station_time ON inspection (station, triggered_at);
      CREATE INDEX inspection_state ON inspection (state) WHERE state = 'awaiting-review';
      CREATE INDEX inspection_part ON inspection (part_id);
      CREATE INDEX inspection_source ON inspection (station, source_ref);
      CREATE INDEX inspection_images ON inspection (triggered_at) WHERE image_ref IS NOT NULL;

      -- Every verdict a person (or the review timeout) gave: the audit trail.
      CREATE TABLE review_decision (
        id            TEXT PRIMARY KEY,           -- decision id from the HMI: replays are idempotent
        inspection_id TEXT NOT NULL REFERENCES inspection (id),
        verdict       TEXT NOT NULL,
        defect_class  TEXT,
        note          TEXT,
        decided_by    TEXT NOT NULL,              -- operator | timeout
        operator_id   TEXT,
        decided_at    INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX review_decision_once ON review_decision (inspection_id);

      -- Messages waiting for the broker; a row leaves only when the broker acknowledged it.
      CREATE TABLE outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id  TEXT NOT NULL UNIQUE,         -- consumers dedupe on it
        kind        TEXT NOT NULL,                -- correction | inspection | ...
        station     TEXT NOT NULL,
        inspection_id TEXT,
        payload     TEXT NOT NULL,                -- JSON
        created_at  INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'HMI operators and sessions',
    sql: `
      -- People who may use the HMI. The PIN is stored only as a salted scrypt hash.
      CREATE TABLE hmi_user (
        id              TEXT PRIMARY KEY,         -- operator id as typed at login (lower case)
        name            TEXT NOT NULL,
        role            TEXT NOT NULL,            -- operator | engineer | admin
        pin_hash        TEXT NOT NULL,            -- scrypt$N$r$p$salt$hash (base64)
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until    INTEGER,                  -- ms since epoch; NULL when not locked out
        disabled        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        last_login_at   INTEGER
      );

      -- Logins. Only a hash of the cookie token is stored, so a copy of the database grants no session.
      CREATE TABLE hmi_session (
        token_hash     TEXT PRIMARY KEY,          -- sha256 of the cookie value, hex
        user_id        TEXT NOT NULL REFERENCES hmi_user (id),
        created_at     INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        last_active_at INTEGER NOT NULL,          -- last operator action: the idle lock counts from here
        locked         INTEGER NOT NULL DEFAULT 0,
        client         TEXT                       -- user agent, for the admin's list
      );
      CREATE INDEX hmi_session_user ON hmi_session (user_id);
      CREATE INDEX hmi_session_expiry ON hmi_session (expires_at);
    `,
  },
  {
    version: 3,
    name: 'API tokens, API write audit, indexes for the engineer API',
    sql: `
      -- Tokens for scripts. Only a hash is stored: the token is shown once, when created.
      CREATE TABLE api_token (
        id           TEXT PRIMARY KEY,            -- public id (ULID): lists and revocation use it
        name         TEXT NOT NULL,               -- what it is for, e.g. "nightly MES export"
        scope        TEXT NOT NULL,               -- read | admin
        token_hash   TEXT NOT NULL UNIQUE,        -- sha256 of the token, hex
        hint         TEXT NOT NULL,               -- first characters of the token, to recognise it
        created_by   TEXT NOT NULL,               -- operator id or "token:<id>"
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,                     -- ms since epoch; NULL = until revoked
        last_used_at INTEGER,
        revoked_at   INTEGER,
        revoked_by   TEXT
      );

      -- Every write through the engineer API: who, what, when, with which outcome.
      CREATE TABLE api_audit (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        at         INTEGER NOT NULL,
        actor      TEXT NOT NULL,                 -- operator id or "token:<id>"
        actor_kind TEXT NOT NULL,                 -- session | token
        method     TEXT NOT NULL,
        route      TEXT NOT NULL,                 -- route pattern, e.g. /api/tokens/:id
        url        TEXT NOT NULL,
        status     INTEGER NOT NULL,
        ip         TEXT
      );
      CREATE INDEX api_audit_time ON api_audit (at);

      -- Time ranges across stations, and the filters an engineer uses most.
      CREATE INDEX inspection_time ON inspection (triggered_at);
      CREATE INDEX inspection_verdict ON inspection (verdict, triggered_at);
      CREATE INDEX inspection_class ON inspection (defect_class, triggered_at) WHERE defect_class IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'model registry, activations, shadow runs, model deliveries',
    sql: `
      -- Packages the gateway verified and keeps under models.registryDir: one row per model id and version.
      CREATE TABLE model_package (
        model_id        TEXT NOT NULL,
        version         TEXT NOT NULL,
        sha256          TEXT NOT NULL,            -- of model.onnx, hex: what inspections and the PLC status name
        manifest_sha256 TEXT NOT NULL,            -- of model.json as stored
        bytes           INTEGER NOT NULL,         -- model.onnx + model.json + card
        dir             TEXT NOT NULL,            -- folder relative to the registry dir
        source          TEXT NOT NULL,            -- api | mqtt
        added_by        TEXT NOT NULL,            -- operator id, token:<id> or mqtt:<deliveryId>
        added_at        INTEGER NOT NULL,
        parent          TEXT,                     -- provenance.parent of model.json
        checks          TEXT NOT NULL,            -- JSON: what verification measured (provider, test inference)
        PRIMARY KEY (model_id, version)
      );

      -- Everything done to a station's models, in order: registrations, refusals, shadow runs,
      -- promotions and rollbacks, with who and why. The promotions and rollbacks replayed in
      -- order say which model a station runs; nothing else holds that state.
      CREATE TABLE model_event (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        at               INTEGER NOT NULL,
        station          TEXT,                    -- NULL for a package registered without a station
        action           TEXT NOT NULL,           -- register | refuse | shadow-start | shadow-stop | promote | rollback | promote-refused
        model_id         TEXT,                    -- NULL with source config: the station's configured model
        version          TEXT,
        sha256           TEXT,
        source           TEXT,                    -- registry | config (promote, rollback)
        previous_model_id TEXT,
        previous_version TEXT,
        previous_sha256  TEXT,
        previous_source  TEXT,
        actor            TEXT NOT NULL,
        reason           TEXT NOT NULL,
        detail           TEXT                     -- JSON: error code, gate figures, part count at the switch
      );
      CREATE INDEX model_event_station ON model_event (station, seq);

      -- A candidate running beside the active model on one station.
      CREATE TABLE shadow_run (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        station     TEXT NOT NULL,
        model_id    TEXT NOT NULL,
        version     TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        pass_below  REAL NOT NULL,                -- the candidate's thresholds during the run
        fail_at     REAL NOT NULL,
        started_by  TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        stopped_by  TEXT,
        stopped_at  INTEGER,
        skipped     INTEGER NOT NULL DEFAULT 0,   -- parts left out because the line was busy or the candidate behind
        failed      INTEGER NOT NULL DEFAULT 0    -- candidate inferences that failed
      );
      CREATE INDEX shadow_run_station ON shadow_run (station, id);

      -- What the candidate said about a part the active model decided. Never read by the line.
      CREATE TABLE shadow_result (
        run_id            INTEGER NOT NULL REFERENCES shadow_run (id),
        inspection_id     TEXT NOT NULL REFERENCES inspection (id),
        active_verdict    TEXT NOT NULL,          -- the inspection's model verdict
        active_score      REAL,
        candidate_verdict TEXT NOT NULL,          -- pass | fail | review under the candidate's thresholds
        candidate_score   REAL NOT NULL,
        candidate_class   TEXT,
        infer_ms          REAL NOT NULL,
        at                INTEGER NOT NULL,
        PRIMARY KEY (run_id, inspection_id)
      );

      -- Packages arriving over MQTT: chunked ones are assembled under the registry dir; this says how each ended.
      CREATE TABLE model_delivery (
        delivery_id  TEXT PRIMARY KEY,
        station      TEXT NOT NULL,
        model_id     TEXT,
        version      TEXT,
        sha256       TEXT NOT NULL,
        transfer     TEXT NOT NULL,               -- inline | chunked | reference
        state        TEXT NOT NULL,               -- registered | refused
        code         TEXT,
        message      TEXT,
        finished_at  INTEGER NOT NULL
      );
    `,
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;
