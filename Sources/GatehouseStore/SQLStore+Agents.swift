import Foundation
import GatehouseCore
import SQLKit

extension SQLStore {
    // MARK: Tokens

    static let activationTokenColumns = "id, operator_id, organization_id, preset_id, title, valid_till, created_at, used_at, agent_id, camera_name"

    static func activationToken(from row: any SQLRow) throws -> ActivationTokenRecord {
        ActivationTokenRecord(
            id: try row.decode(column: "id", as: Int64.self), operatorId: try row.decode(column: "operator_id", as: Int64.self),
            organizationId: try row.decode(column: "organization_id", as: Int64.self), presetId: try row.decode(column: "preset_id", as: Int64.self),
            title: try row.decode(column: "title", as: String.self), validTill: try row.decode(column: "valid_till", as: Int64.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self), usedAt: try row.decode(column: "used_at", as: Int64?.self),
            agentId: try row.decode(column: "agent_id", as: Int64?.self), cameraName: try row.decode(column: "camera_name", as: String?.self))
    }

    public func insertActivationToken(_ record: ActivationTokenRecord, tokenHash: String, organizationPath: String?,
                                      audit: AuditIntent) async throws -> ActivationTokenRecord {
        guard case .issued(let token) = try await activationWrites.submit(.issue(TokenIssue(
            record: record, tokenHash: tokenHash, audit: audit, organizationPath: organizationPath)))
        else { throw GatehouseError(.internal, "a token issue was answered as a redemption") }
        return token
    }

    /// The `token.issued` webhook data of a token (never the token itself).
    static func tokenEventPayload(_ token: ActivationTokenRecord) -> String {
        JSONText.string(["token_id": token.id, "organization_id": token.organizationId, "preset_id": token.presetId, "title": token.title,
                         "valid_till": token.validTill] as [String: Any])
    }

    public func activationToken(operatorId: Int64, tokenHash: String) async throws -> ActivationTokenRecord? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.activationTokenColumns) FROM activation_tokens WHERE operator_id = \(bind: operatorId) AND token_hash = \(bind: tokenHash)
                """).first().map(Self.activationToken(from:))
        }
    }

    // MARK: Redemption

    public func redeemActivationToken(operatorId: Int64, tokenHash: String, agent: NewAgent, retryWindow: Int64,
                                      guessing: GuessingCheck) async throws -> Redemption {
        guard case .redeemed(let redemption) = try await activationWrites.submit(.redeem(RedemptionRequest(
            operatorId: operatorId, tokenHash: tokenHash, agent: agent, retryWindow: retryWindow, guessing: guessing)))
        else { throw GatehouseError(.internal, "a redemption was answered as a token issue") }
        return redemption
    }

    /// The same agent asking again for a token it already redeemed (it lost the answer): a
    /// new key while it has not checked in and within `retryWindow` seconds. Another agent
    /// whose request arrived no later than the redemption (the same second: they raced) is
    /// told `conflict`. Otherwise refused, like an unknown token.
    static func repeatRedemption(_ db: any SQLDatabase, operatorId: Int64, tokenHash: String, agent: NewAgent, retryWindow: Int64) async throws -> Redemption {
        guard let token = try await db.raw("""
            SELECT \(unsafeRaw: activationTokenColumns) FROM activation_tokens WHERE operator_id = \(bind: operatorId) AND token_hash = \(bind: tokenHash)
            """).first().map(activationToken(from:)), let agentId = token.agentId else { return .refused }
        guard let row = try await db.raw("""
            UPDATE agents SET key_hash = \(bind: agent.keyHash), version = \(bind: agent.version), mac = \(bind: agent.mac)
            WHERE id = \(bind: agentId) AND serial = \(bind: agent.serial) AND status = 'active' AND last_seen_at IS NULL
              AND created_at >= \(bind: agent.at - retryWindow)
            RETURNING \(unsafeRaw: agentColumns)
            """).first() else {
            guard (token.usedAt ?? 0) >= agent.at else { return .refused }
            let winner = try await db.raw("SELECT serial FROM agents WHERE id = \(bind: agentId)").first()?.decode(column: "serial", as: String.self)
            return winner == agent.serial ? .refused : .conflict
        }
        let record = try agentRecord(from: row)
        let camera = try await fetchCameras(db, filter: SQLQueryString("c.agent_id = \(bind: record.id)"), limit: 1, offset: 0).first
        return .repeated(record, camera)
    }

    // MARK: Agents

    static let agentColumns = "id, operator_id, serial, version, mac, status, token_id, device_id, created_at, last_seen_at"

    static func agentRecord(from row: any SQLRow) throws -> AgentRecord {
        AgentRecord(id: try row.decode(column: "id", as: Int64.self), operatorId: try row.decode(column: "operator_id", as: Int64.self),
                    serial: try row.decode(column: "serial", as: String.self), version: try row.decode(column: "version", as: String?.self),
                    mac: try row.decode(column: "mac", as: String?.self),
                    status: AgentStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .deactivated,
                    tokenId: try row.decode(column: "token_id", as: Int64?.self), deviceId: try row.decode(column: "device_id", as: Int64?.self),
                    createdAt: try row.decode(column: "created_at", as: Int64.self), lastSeenAt: try row.decode(column: "last_seen_at", as: Int64?.self))
    }

    static func insertAgent(_ db: any SQLDatabase, operatorId: Int64, agent: NewAgent, status: AgentStatus, tokenId: Int64?) async throws -> AgentRecord {
        guard let row = try await db.raw("""
            INSERT INTO agents (operator_id, key_hash, serial, version, mac, status, token_id, created_at)
            VALUES (\(bind: operatorId), \(bind: agent.keyHash), \(bind: agent.serial), \(bind: agent.version), \(bind: agent.mac), \(bind: status.rawValue),
                    \(bind: tokenId), \(bind: agent.at))
            RETURNING \(unsafeRaw: agentColumns)
            """).first() else { throw GatehouseError(.internal, "insert returned no id") }
        return try agentRecord(from: row)
    }

    public func registerUnassignedAgent(operatorId: Int64, agent: NewAgent) async throws -> AgentRecord {
        try await database.transaction { db in
            if let row = try await db.raw("""
                UPDATE agents SET key_hash = \(bind: agent.keyHash), version = \(bind: agent.version), mac = \(bind: agent.mac)
                WHERE operator_id = \(bind: operatorId) AND serial = \(bind: agent.serial) AND status = 'unassigned' AND last_seen_at IS NULL
                RETURNING \(unsafeRaw: Self.agentColumns)
                """).first() {
                return try Self.agentRecord(from: row)
            }
            let record = try await Self.insertAgent(db, operatorId: operatorId, agent: agent, status: .unassigned, tokenId: nil)
            try await Self.audit(db, at: agent.at, intent: AuditIntent(actor: "agent:\(record.id)", detail: "serial \(agent.serial)"), action: "agent.register",
                                 targetType: "agent", targetId: String(record.id), tenantId: operatorId)
            return record
        }
    }

    public func agents(operatorId: Int64, status: AgentStatus?, limit: Int, offset: Int) async throws -> OffsetPage<AgentRecord> {
        try await database.withConnection { db in
            var filter = SQLQueryString("operator_id = \(bind: operatorId)")
            if let status { filter.appendInterpolation(unsafeRaw: " AND status = "); filter.appendInterpolation(bind: status.rawValue) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM agents WHERE \(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            let items = try await db.raw("""
                SELECT \(unsafeRaw: Self.agentColumns) FROM agents WHERE \(filter) ORDER BY id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
                """).all().map(Self.agentRecord(from:))
            return OffsetPage(items: items, total: total, limit: limit, offset: offset)
        }
    }

    public func agent(id: Int64) async throws -> (record: AgentRecord, keyHash: String)? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.agentColumns), key_hash FROM agents WHERE id = \(bind: id)").first() else { return nil }
            return (try Self.agentRecord(from: row), try row.decode(column: "key_hash", as: String.self))
        }
    }

    public func assignAgent(id: Int64, operatorId: Int64, organizationId: Int64, presetId: Int64, title: String, at: Int64, audit: AuditIntent) async throws -> Camera {
        let (camera, queued) = try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE agents SET status = 'active' WHERE id = \(bind: id) AND operator_id = \(bind: operatorId) AND status = 'unassigned'
                RETURNING \(unsafeRaw: Self.agentColumns)
                """).first() else {
                if try await db.raw("SELECT id FROM agents WHERE id = \(bind: id) AND operator_id = \(bind: operatorId)").first() == nil {
                    throw GatehouseError.notFound("agent", id)
                }
                throw GatehouseError(.conflict, "agent \(id) is not waiting to be assigned")
            }
            let agent = try Self.agentRecord(from: row)
            let camera = try await Self.insertCamera(db, operatorId: operatorId, organizationId: organizationId, presetId: presetId, title: title, agent: agent, at: at)
            try await Self.audit(db, at: at, intent: audit, action: "camera.activate", targetType: "device", targetId: String(camera.deviceId), tenantId: organizationId)
            return (camera, try await Self.enqueueCameraEvent(db, .cameraActivated, camera, at: at))
        }
        webhookOutbox.committed(queued)
        return camera
    }

    public func agentSeen(id: Int64, version: String?, at: Int64) async throws {
        try await database.write { db in
            try await db.raw("""
                UPDATE agents SET last_seen_at = \(bind: at), version = COALESCE(\(bind: version), version) WHERE id = \(bind: id)
                """).run()
        }
    }

    // MARK: Cameras

    /// A URL- and file-safe camera name from a title: lower-case letters, digits and '-', plus the device id.
    static func cameraName(title: String, deviceId: Int64) -> String {
        var slug = ""
        for scalar in title.lowercased().unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) { slug.unicodeScalars.append(scalar) }
            else if !slug.isEmpty, !slug.hasSuffix("-") { slug += "-" }
            if slug.count >= 40 { break }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        return (slug.isEmpty ? "camera" : slug) + "-\(deviceId)"
    }

    /// Creates the camera of an agent in an organization (inside the caller's transaction);
    /// `limit_exceeded` when the organization holds its `camera_limit` already.
    static func insertCamera(_ db: any SQLDatabase, operatorId: Int64, organizationId: Int64, presetId: Int64, title: String, agent: AgentRecord,
                             at: Int64) async throws -> Camera {
        if let limit = try await db.raw("SELECT camera_limit FROM organization_profiles WHERE tenant_id = \(bind: organizationId)").first()?
            .decode(column: "camera_limit", as: Int64?.self) {
            let count = try await db.raw("SELECT COUNT(*) AS n FROM cameras WHERE organization_id = \(bind: organizationId)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            guard count < limit else { throw GatehouseError(.limitExceeded, "the organization may hold at most \(limit) cameras") }
        }
        guard let row = try await db.raw("""
            INSERT INTO devices (tenant_id, kind, name, serial, created_at, updated_at)
            VALUES (\(bind: organizationId), 'camera', \(bind: title), \(bind: agent.serial), \(bind: at), \(bind: at)) RETURNING id
            """).first() else { throw GatehouseError(.internal, "insert returned no id") }
        let deviceId = try row.decode(column: "id", as: Int64.self)
        let name = cameraName(title: title, deviceId: deviceId)
        try await db.raw("""
            INSERT INTO cameras (device_id, operator_id, name, organization_id, preset_id, agent_id)
            VALUES (\(bind: deviceId), \(bind: operatorId), \(bind: name), \(bind: organizationId), \(bind: presetId), \(bind: agent.id))
            """).run()
        try await db.raw("UPDATE agents SET device_id = \(bind: deviceId) WHERE id = \(bind: agent.id)").run()
        return Camera(deviceId: deviceId, operatorId: operatorId, name: name, title: title, organizationId: organizationId, presetId: presetId,
                      agentId: agent.id, agentSerial: agent.serial, agentVersion: agent.version, lastSeenAt: agent.lastSeenAt, createdAt: at)
    }

    static func fetchCameras(_ db: any SQLDatabase, filter: SQLQueryString, limit: Int, offset: Int) async throws -> [Camera] {
        try await db.raw("""
            SELECT c.device_id, c.operator_id, c.name, d.name AS title, c.organization_id, c.preset_id, c.agent_id, a.serial, a.version, a.last_seen_at, d.created_at
            FROM cameras c JOIN devices d ON d.id = c.device_id LEFT JOIN agents a ON a.id = c.agent_id
            WHERE \(filter) ORDER BY c.device_id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))
            """).all().map { row in
            Camera(deviceId: try row.decode(column: "device_id", as: Int64.self), operatorId: try row.decode(column: "operator_id", as: Int64.self),
                   name: try row.decode(column: "name", as: String.self), title: try row.decode(column: "title", as: String.self),
                   organizationId: try row.decode(column: "organization_id", as: Int64.self), presetId: try row.decode(column: "preset_id", as: Int64?.self),
                   agentId: try row.decode(column: "agent_id", as: Int64?.self), agentSerial: try row.decode(column: "serial", as: String?.self),
                   agentVersion: try row.decode(column: "version", as: String?.self), lastSeenAt: try row.decode(column: "last_seen_at", as: Int64?.self),
                   createdAt: try row.decode(column: "created_at", as: Int64.self))
        }
    }

    public func cameras(operatorId: Int64, organizationId: Int64?, limit: Int, offset: Int) async throws -> OffsetPage<Camera> {
        try await database.withConnection { db in
            var filter = SQLQueryString("c.operator_id = \(bind: operatorId)")
            if let organizationId { filter.appendInterpolation(unsafeRaw: " AND c.organization_id = "); filter.appendInterpolation(bind: organizationId) }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM cameras c WHERE \(filter)").first()?.decode(column: "n", as: Int64.self) ?? 0
            return OffsetPage(items: try await Self.fetchCameras(db, filter: filter, limit: limit, offset: offset), total: total, limit: limit, offset: offset)
        }
    }

    public func camera(operatorId: Int64, name: String) async throws -> Camera? {
        try await database.withConnection { db in
            try await Self.fetchCameras(db, filter: SQLQueryString("c.operator_id = \(bind: operatorId) AND c.name = \(bind: name)"), limit: 1, offset: 0).first
        }
    }

    public func deleteCamera(operatorId: Int64, name: String, at: Int64, audit: AuditIntent) async throws {
        let queued = try await database.transaction { db in
            guard let camera = try await Self.fetchCameras(db, filter: SQLQueryString("c.operator_id = \(bind: operatorId) AND c.name = \(bind: name)"),
                                                           limit: 1, offset: 0).first else { throw GatehouseError.notFound("camera", name) }
            if let agentId = camera.agentId {
                try await db.raw("""
                    UPDATE agents SET status = 'deactivated', deactivated_at = \(bind: at), device_id = NULL WHERE id = \(bind: agentId)
                    """).run()
            }
            try await db.raw("DELETE FROM devices WHERE id = \(bind: camera.deviceId)").run()
            try await Self.audit(db, at: at, intent: audit, action: "camera.deactivate", targetType: "device", targetId: String(camera.deviceId),
                                 tenantId: camera.organizationId)
            return try await Self.enqueueCameraEvent(db, .cameraDeactivated, camera, at: at)
        }
        webhookOutbox.committed(queued)
    }

    /// Queues a camera event for the operator's webhooks, in the transaction that made it;
    /// answers how many deliveries were queued.
    static func enqueueCameraEvent(_ db: any SQLDatabase, _ event: WebhookEvent, _ camera: Camera, at: Int64) async throws -> Int {
        try await enqueueWebhookEvent(db, operatorId: camera.operatorId, event: event, payload: cameraEventPayload(camera), at: at).count
    }

    /// The webhook data of a camera event.
    static func cameraEventPayload(_ camera: Camera) -> String {
        JSONText.string([
            "camera_name": camera.name, "title": camera.title, "organization_id": camera.organizationId, "preset_id": camera.presetId as Any? ?? NSNull(),
            "agent_id": camera.agentId as Any? ?? NSNull(), "agent_serial": camera.agentSerial as Any? ?? NSNull()] as [String: Any])
    }

    // MARK: Failed redemptions

    public func activationFailures(scopes: [String], sinceMinute minute: Int64) async throws -> [String: Int64] {
        guard !scopes.isEmpty else { return [:] }
        return try await database.withConnection { db in
            var filter = SQLQueryString("minute >= \(bind: minute) AND scope IN (")
            for (index, scope) in scopes.enumerated() {
                if index > 0 { filter.appendInterpolation(unsafeRaw: ", ") }
                filter.appendInterpolation(bind: scope)
            }
            filter.appendInterpolation(unsafeRaw: ")")
            var counts: [String: Int64] = [:]
            for row in try await db.raw("SELECT scope, CAST(SUM(failures) AS BIGINT) AS n FROM activation_failures WHERE \(filter) GROUP BY scope").all() {
                counts[try row.decode(column: "scope", as: String.self)] = try row.decode(column: "n", as: Int64.self)
            }
            return counts
        }
    }

    public func recordActivationFailure(scopes: [String], minute: Int64) async throws {
        try await database.transaction { db in
            for scope in scopes {
                try await db.raw("""
                    INSERT INTO activation_failures (scope, minute, failures) VALUES (\(bind: scope), \(bind: minute), 1)
                    ON CONFLICT (scope, minute) DO UPDATE SET failures = activation_failures.failures + 1
                    """).run()
            }
            // Old buckets are dropped as new ones are written.
            try await db.raw("DELETE FROM activation_failures WHERE minute < \(bind: minute - 24 * 60)").run()
        }
    }

    public func forgetActivationFailure(scopes: [String], minute: Int64) async throws {
        try await database.transaction { db in
            for scope in scopes {
                try await db.raw("""
                    UPDATE activation_failures SET failures = failures - 1 WHERE scope = \(bind: scope) AND minute = \(bind: minute) AND failures > 0
                    """).run()
            }
        }
    }
}
