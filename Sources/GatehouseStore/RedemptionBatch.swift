import Foundation
import GatehouseCore
import SQLKit

/// One queued token redemption (see ``SQLStore/redeemActivationToken``).
struct RedemptionRequest: Sendable {
    var operatorId: Int64
    var tokenHash: String
    var agent: NewAgent
    var retryWindow: Int64
    var guessing: GuessingCheck
}

/// Writes a batch of token redemptions in one transaction, with the same handful of
/// statements whatever its size.
///
/// In order: the guessing counters of every scope in the batch (one read); the tokens (one
/// read); the camera limits of their organizations (locked on PostgreSQL, so a limit holds
/// across nodes); new device and agent ids; one conditional `UPDATE` that claims every free
/// token (`used_at IS NULL`: of racing redemptions on any node exactly one matches) and
/// names its camera; then multi-row inserts of devices, agents, cameras, audit entries and
/// webhook deliveries for the winners. Requests whose token is not free — used, expired,
/// unknown, or claimed by an earlier request of the same batch — take the single-request
/// path afterwards: a repeat by the same agent, a conflict, or a refusal.
enum RedemptionBatch {
    static func commit(_ database: any Database, _ batch: [RedemptionRequest]) async throws -> [Result<Redemption, any Error>] {
        let engine = database.engine
        return try await database.transaction { db in
            var results = [Result<Redemption, any Error>?](repeating: nil, count: batch.count)
            let failures = try await failureCounts(db, batch)
            var live: [Int] = []
            for index in batch.indices {
                if batch[index].guessing.isExceeded(failures) {
                    results[index] = .failure(GatehouseError(.rateLimited, "too many failed activations; try again later"))
                } else {
                    live.append(index)
                }
            }
            let tokens = try await tokens(db, live.map { batch[$0] })
            var candidates: [(index: Int, token: ActivationTokenRecord)] = []
            var others: [Int] = []
            var taken = Set<Int64>()
            for index in live {
                let request = batch[index]
                if let token = tokens[Key(request.operatorId, request.tokenHash)], token.usedAt == nil,
                   token.validTill == 0 || token.validTill > request.agent.at, !taken.contains(token.id) {
                    taken.insert(token.id)
                    candidates.append((index, token))
                } else {
                    others.append(index)
                }
            }
            candidates = try await withinCameraLimits(db, engine, candidates) { index, error in results[index] = .failure(error) }
            if !candidates.isEmpty {
                let deviceIds = try await ChannelCreationBatch.reserveIds(db, engine, table: "devices", count: candidates.count)
                let agentIds = try await ChannelCreationBatch.reserveIds(db, engine, table: "agents", count: candidates.count)
                var made: [(index: Int, agent: AgentRecord, camera: Camera, path: String?)] = []
                var planned: [Int64: (Int, AgentRecord, Camera)] = [:]
                for (n, candidate) in candidates.enumerated() {
                    let request = batch[candidate.index], token = candidate.token, at = request.agent.at
                    let agent = AgentRecord(id: agentIds[n], operatorId: request.operatorId, serial: request.agent.serial, version: request.agent.version,
                                            mac: request.agent.mac, status: .active, tokenId: token.id, deviceId: deviceIds[n], createdAt: at, lastSeenAt: nil)
                    let camera = Camera(deviceId: deviceIds[n], operatorId: request.operatorId,
                                        name: SQLStore.cameraName(title: token.title, deviceId: deviceIds[n]), title: token.title,
                                        organizationId: token.organizationId, presetId: token.presetId, agentId: agent.id, agentSerial: agent.serial,
                                        agentVersion: agent.version, lastSeenAt: nil, createdAt: at)
                    planned[token.id] = (candidate.index, agent, camera)
                }
                let won = try await claim(db, planned.map { (tokenId: $0.key, at: batch[$0.value.0].agent.at, agentId: $0.value.1.id, name: $0.value.2.name) })
                for candidate in candidates {
                    guard let (index, agent, camera) = planned[candidate.token.id] else { continue }
                    if won.contains(candidate.token.id) {
                        made.append((index, agent, camera, nil))
                    } else {
                        others.append(index)  // another node claimed it first
                    }
                }
                if !made.isEmpty {
                    let paths = try await ChannelCreationBatch.tenantPaths(db, ids: Set(made.map(\.camera.organizationId)))
                    made = made.map { ($0.index, $0.agent, $0.camera, paths[$0.camera.organizationId]) }
                    try await insert(db, made.map { (batch[$0.index], $0.agent, $0.camera, $0.path) })
                    for entry in made { results[entry.index] = .success(.activated(entry.agent, entry.camera)) }
                }
            }
            for index in others.sorted() {
                let request = batch[index]
                results[index] = .success(try await SQLStore.repeatRedemption(db, operatorId: request.operatorId, tokenHash: request.tokenHash,
                                                                             agent: request.agent, retryWindow: request.retryWindow))
            }
            return results.map { $0! }
        }
    }

    struct Key: Hashable {
        let operatorId: Int64
        let tokenHash: String
        init(_ operatorId: Int64, _ tokenHash: String) {
            self.operatorId = operatorId
            self.tokenHash = tokenHash
        }
    }

    /// Failed redemptions per scope within each request's window (the widest one asked).
    static func failureCounts(_ db: any SQLDatabase, _ batch: [RedemptionRequest]) async throws -> [String: Int64] {
        let scopes = Set(batch.flatMap(\.guessing.scopes))
        guard !scopes.isEmpty, let since = batch.map(\.guessing.sinceMinute).min() else { return [:] }
        var query = SQLQueryString("SELECT scope, CAST(SUM(failures) AS BIGINT) AS n FROM activation_failures WHERE minute >= \(bind: since) AND scope IN (")
        for (index, scope) in scopes.sorted().enumerated() {
            if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
            query.appendInterpolation(bind: scope)
        }
        query.appendInterpolation(unsafeRaw: ") GROUP BY scope")
        var counts: [String: Int64] = [:]
        for row in try await db.raw(query).all() {
            counts[try row.decode(column: "scope", as: String.self)] = try row.decode(column: "n", as: Int64.self)
        }
        return counts
    }

    static func tokens(_ db: any SQLDatabase, _ requests: [RedemptionRequest]) async throws -> [Key: ActivationTokenRecord] {
        guard !requests.isEmpty else { return [:] }
        var found: [Key: ActivationTokenRecord] = [:]
        for chunk in requests.chunked(200) {
            // Both key columns, so that the (operator_id, token_hash) index answers.
            let operators = Set(chunk.map(\.operatorId)).sorted().map(String.init).joined(separator: ",")
            var query = SQLQueryString("""
                SELECT \(unsafeRaw: SQLStore.activationTokenColumns), token_hash FROM activation_tokens
                WHERE operator_id IN (\(unsafeRaw: operators)) AND token_hash IN (
                """)
            for (index, request) in chunk.enumerated() {
                if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                query.appendInterpolation(bind: request.tokenHash)
            }
            query.appendInterpolation(unsafeRaw: ")")
            for row in try await db.raw(query).all() {
                let token = try SQLStore.activationToken(from: row)
                found[Key(token.operatorId, try row.decode(column: "token_hash", as: String.self))] = token
            }
        }
        return found
    }

    /// The candidates whose organization can take one more camera, in order; the others are
    /// answered `limit_exceeded` through `refuse`. On PostgreSQL the profiles are locked first.
    static func withinCameraLimits(_ db: any SQLDatabase, _ engine: DatabaseEngine, _ candidates: [(index: Int, token: ActivationTokenRecord)],
                                   refuse: (Int, GatehouseError) -> Void) async throws -> [(index: Int, token: ActivationTokenRecord)] {
        let organizations = Set(candidates.map(\.token.organizationId)).sorted()
        guard !organizations.isEmpty else { return [] }
        let list = organizations.map(String.init).joined(separator: ",")
        var limits: [Int64: Int64] = [:]
        for row in try await db.raw("""
            SELECT tenant_id, camera_limit FROM organization_profiles WHERE tenant_id IN (\(unsafeRaw: list)) ORDER BY tenant_id\(unsafeRaw: engine == .postgres ? " FOR UPDATE" : "")
            """).all() {
            if let limit = try row.decode(column: "camera_limit", as: Int64?.self) { limits[try row.decode(column: "tenant_id", as: Int64.self)] = limit }
        }
        guard !limits.isEmpty else { return candidates }
        var held: [Int64: Int64] = [:]
        for row in try await db.raw("""
            SELECT organization_id, COUNT(*) AS n FROM cameras WHERE organization_id IN (\(unsafeRaw: limits.keys.sorted().map(String.init).joined(separator: ",")))
            GROUP BY organization_id
            """).all() {
            held[try row.decode(column: "organization_id", as: Int64.self)] = try row.decode(column: "n", as: Int64.self)
        }
        var accepted: [(index: Int, token: ActivationTokenRecord)] = []
        for candidate in candidates {
            let organization = candidate.token.organizationId
            if let limit = limits[organization] {
                guard held[organization, default: 0] < limit else {
                    refuse(candidate.index, GatehouseError(.limitExceeded, "the organization may hold at most \(limit) cameras"))
                    continue
                }
                held[organization, default: 0] += 1
            }
            accepted.append(candidate)
        }
        return accepted
    }

    /// Claims the free tokens among `claims` and names their cameras; answers the ids claimed.
    static func claim(_ db: any SQLDatabase, _ claims: [(tokenId: Int64, at: Int64, agentId: Int64, name: String)]) async throws -> Set<Int64> {
        var won = Set<Int64>()
        for chunk in claims.sorted(by: { $0.tokenId < $1.tokenId }).chunked(100) {
            var query = SQLQueryString("UPDATE activation_tokens SET used_at = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN "); query.appendInterpolation(bind: claim.at) }
            query.appendInterpolation(unsafeRaw: " END, agent_id = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN \(claim.agentId)") }
            query.appendInterpolation(unsafeRaw: " END, camera_name = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN "); query.appendInterpolation(bind: claim.name) }
            query.appendInterpolation(unsafeRaw: " END WHERE used_at IS NULL AND id IN (\(chunk.map { String($0.tokenId) }.joined(separator: ",")))")
            query.appendInterpolation(unsafeRaw: " RETURNING id")
            for row in try await db.raw(query).all() { won.insert(try row.decode(column: "id", as: Int64.self)) }
        }
        return won
    }

    /// Devices, agents, cameras, audit entries and `camera.activated` deliveries of the winners.
    static func insert(_ db: any SQLDatabase, _ made: [(request: RedemptionRequest, agent: AgentRecord, camera: Camera, path: String?)]) async throws {
        for chunk in made.chunked(100) {
            try await db.raw(rows("INSERT INTO devices (id, tenant_id, kind, name, serial, created_at, updated_at) VALUES ", chunk) {
                [$0.camera.deviceId, $0.camera.organizationId, "camera", $0.camera.title, $0.agent.serial, $0.camera.createdAt, $0.camera.createdAt]
            }).run()
            try await db.raw(rows("INSERT INTO agents (id, operator_id, key_hash, serial, version, mac, status, token_id, device_id, created_at) VALUES ", chunk) {
                [$0.agent.id, $0.agent.operatorId, $0.request.agent.keyHash, $0.agent.serial, $0.agent.version, $0.agent.mac, "active", $0.agent.tokenId,
                 $0.agent.deviceId, $0.agent.createdAt]
            }).run()
            try await db.raw(rows("INSERT INTO cameras (device_id, operator_id, name, organization_id, preset_id, agent_id) VALUES ", chunk) {
                [$0.camera.deviceId, $0.camera.operatorId, $0.camera.name, $0.camera.organizationId, $0.camera.presetId, $0.agent.id]
            }).run()
            try await db.raw(rows("INSERT INTO audit_log (at, actor, action, target_type, target_id, tenant_id, tenant_path, detail) VALUES ", chunk) {
                [$0.camera.createdAt, "agent:\($0.agent.id)", "camera.activate", "device", String($0.camera.deviceId), $0.camera.organizationId, $0.path,
                 "serial \($0.agent.serial)"]
            }).run()
        }
        try await SQLStore.enqueueWebhookEvents(db, made.map { (operatorId: $0.camera.operatorId, event: WebhookEvent.cameraActivated,
                                                                payload: SQLStore.cameraEventPayload($0.camera), at: $0.camera.createdAt) })
    }

    /// A multi-row `INSERT` of `items`, each bound as the values `values` gives.
    static func rows<T>(_ head: String, _ items: ArraySlice<T>, _ values: (T) -> [any Encodable & Sendable]) -> SQLQueryString {
        var query = SQLQueryString(head)
        for (index, item) in items.enumerated() {
            query.appendInterpolation(unsafeRaw: index == 0 ? "(" : ", (")
            query.appendInterpolation(binds: values(item))
            query.appendInterpolation(unsafeRaw: ")")
        }
        return query
    }
}
