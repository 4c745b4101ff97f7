import PostgresNIO

/// The statements of an agent-activation batch (``ActivationWriteBatch``) on PostgreSQL,
/// prepared once per connection: their rows travel as arrays, so their text is the same
/// whatever the batch's size. Each is the fixed-text twin of the batch's portable
/// statement, with the same effect.
enum PostgresActivationStatements {
    /// New activation tokens; a token that collides with a live one of its operator (or an
    /// earlier one of the same batch), or whose preset no longer belongs to its organization,
    /// is not written. Answers `id, operator_id, token_hash` of those written.
    struct InsertTokens: PreparedRowStatement {
        static let sql = """
            INSERT INTO activation_tokens (operator_id, token_hash, organization_id, preset_id, title, valid_till, created_by, created_at)
            SELECT u.operator_id, u.token_hash, u.organization_id, u.preset_id, u.title, u.valid_till, NULL, u.created_at
            FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[])
                 AS u(operator_id, token_hash, organization_id, preset_id, title, valid_till, created_at)
            WHERE (SELECT p.tenant_id FROM presets p WHERE p.id = u.preset_id) = u.organization_id
            ON CONFLICT (operator_id, token_hash) DO NOTHING RETURNING id, operator_id, token_hash
            """
        let issues: [TokenIssue]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 7)
            bindings.append(issues.map(\.record.operatorId))
            bindings.append(issues.map(\.tokenHash))
            bindings.append(issues.map(\.record.organizationId))
            bindings.append(issues.map(\.record.presetId))
            bindings.append(issues.map(\.record.title))
            bindings.append(issues.map(\.record.validTill))
            bindings.append(issues.map(\.record.createdAt))
            return bindings
        }
    }

    /// Failed redemptions per scope since a minute: `scope, n` (scopes without any are left out).
    ///
    /// Every table this file's statements read is read by its key, one probe per row of an
    /// array (a `LATERAL` subquery, or a scalar one): a generic plan made while a table is
    /// nearly empty is then the same index look-up it would be on a large table, never a
    /// merge join over a whole index (``PostgresPlanShapeTests``).
    struct FailureCounts: PreparedRowStatement {
        static let sql = """
            SELECT s.scope, c.n FROM unnest($2::text[]) AS s(scope)
            CROSS JOIN LATERAL (SELECT CAST(SUM(f.failures) AS BIGINT) AS n FROM activation_failures f WHERE f.scope = s.scope AND f.minute >= $1::bigint) c
            WHERE c.n IS NOT NULL
            """
        let since: Int64
        let scopes: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(since)
            bindings.append(scopes)
            return bindings
        }
    }

    /// Tokens by operator and hash (pairs at the same index), with their organization's path
    /// and camera limit: the columns of ``RedemptionBatch/tokenSelect``.
    struct Tokens: PreparedRowStatement {
        static let sql = """
            SELECT \(RedemptionBatch.tokenColumns), t.token_hash,
                   (SELECT n.path FROM tenants n WHERE n.id = t.organization_id) AS organization_path,
                   (SELECT p.camera_limit FROM organization_profiles p WHERE p.tenant_id = t.organization_id) AS camera_limit
            FROM unnest($1::bigint[], $2::text[]) AS k(operator_id, token_hash)
            CROSS JOIN LATERAL (SELECT * FROM activation_tokens x WHERE x.operator_id = k.operator_id AND x.token_hash = k.token_hash OFFSET 0) t
            """
        let operators: [Int64]
        let hashes: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(operators)
            bindings.append(hashes)
            return bindings
        }
    }

    /// `count` new ids of `devices` and of `agents` (columns `devices`, `agents`).
    struct CameraIds: PreparedRowStatement {
        static let sql = """
            SELECT nextval(s.devices) AS devices, nextval(s.agents) AS agents
            FROM (SELECT pg_get_serial_sequence('devices', 'id')::regclass AS devices, pg_get_serial_sequence('agents', 'id')::regclass AS agents) s,
                 generate_series(1, $1::bigint)
            """
        let count: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(count)
            return bindings
        }
    }

    /// ``RedemptionBatch/claimAndInsert(_:_:)`` in one statement: claims the free tokens
    /// among the plans (rows locked in id order first) and writes the winners' devices,
    /// agents and cameras. Answers the `id`s claimed.
    struct ClaimAndInsert: PreparedRowStatement {
        static let sql = """
            WITH plan AS (
                SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
                    AS u(token_id, device_id, agent_id, operator_id, organization_id, preset_id, at, title, name, serial, version, mac, key_hash)),
            won AS (
                UPDATE activation_tokens t SET used_at = p.at, agent_id = p.agent_id, camera_name = p.name FROM plan p
                WHERE t.id = p.token_id AND t.id = ANY($1::bigint[]) AND t.used_at IS NULL
                  AND t.id IN (SELECT id FROM activation_tokens WHERE id = ANY($1::bigint[]) AND used_at IS NULL ORDER BY id FOR UPDATE)
                RETURNING t.id),
            d AS (INSERT INTO devices (id, tenant_id, kind, name, serial, created_at, updated_at)
                  SELECT p.device_id, p.organization_id, 'camera', p.title, p.serial, p.at, p.at FROM plan p JOIN won w ON w.id = p.token_id),
            a AS (INSERT INTO agents (id, operator_id, key_hash, serial, version, mac, status, token_id, device_id, created_at)
                  SELECT p.agent_id, p.operator_id, p.key_hash, p.serial, p.version, p.mac, 'active', p.token_id, p.device_id, p.at
                  FROM plan p JOIN won w ON w.id = p.token_id),
            c AS (INSERT INTO cameras (device_id, operator_id, name, organization_id, preset_id, agent_id)
                  SELECT p.device_id, p.operator_id, p.name, p.organization_id, p.preset_id, p.agent_id FROM plan p JOIN won w ON w.id = p.token_id)
            SELECT id FROM won
            """
        /// In token id order (the order the rows are locked in).
        let plans: [RedemptionBatch.CameraPlan]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13)
            bindings.append(plans.map(\.tokenId))
            bindings.append(plans.map(\.camera.deviceId))
            bindings.append(plans.map(\.agent.id))
            bindings.append(plans.map(\.camera.operatorId))
            bindings.append(plans.map(\.camera.organizationId))
            bindings.append(PostgresNullableArray(plans.map(\.camera.presetId)))
            bindings.append(plans.map(\.camera.createdAt))
            bindings.append(plans.map(\.camera.title))
            bindings.append(plans.map(\.camera.name))
            bindings.append(plans.map(\.agent.serial))
            bindings.append(PostgresNullableArray(plans.map(\.agent.version)))
            bindings.append(PostgresNullableArray(plans.map(\.agent.mac)))
            bindings.append(plans.map(\.request.agent.keyHash))
            return bindings
        }
    }

    /// Writes audit entries and reads the webhooks of some operators (`id, operator_id,
    /// events`, in no order), in one round trip.
    struct AuditAndWebhooks: PreparedRowStatement {
        static let sql = """
            WITH along AS (
                INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail)
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[]))
            SELECT w.id, w.operator_id, w.events FROM unnest($9::bigint[]) AS o(id)
            CROSS JOIN LATERAL (SELECT * FROM webhooks x WHERE x.operator_id = o.id OFFSET 0) w
            """
        let audits: [AuditRow]
        let operators: [Int64]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 9)
            bindings.append(audits.map(\.at))
            bindings.append(audits.map(\.actor))
            bindings.append(audits.map(\.action))
            bindings.append(audits.map(\.targetType))
            bindings.append(audits.map(\.targetId))
            bindings.append(PostgresNullableArray(audits.map(\.tenantId)))
            bindings.append(PostgresNullableArray(audits.map(\.tenantPath)))
            bindings.append(PostgresNullableArray(audits.map(\.detail)))
            bindings.append(operators)
            return bindings
        }
    }
}
