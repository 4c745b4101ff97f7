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

/// Writes a batch of token redemptions inside the caller's transaction, with the same
/// handful of statements whatever its size.
///
/// In order: the guessing counters of every scope in the batch (one read, no lock); the tokens with
/// their organization's path and camera limit (one read; on PostgreSQL the profiles of
/// limited organizations are then locked, so a limit holds across nodes); new device and
/// agent ids (one statement); one conditional `UPDATE` that claims every free token
/// (`used_at IS NULL`: of racing redemptions on any node exactly one matches) and names its
/// camera; then multi-row inserts of devices, agents and cameras for the winners, whose
/// audit entries and `camera.activated` events are gathered. Requests whose token is not
/// free — used, expired, unknown, or claimed by an earlier request of the same batch — take
/// the single-request path afterwards: a repeat by the same agent, a conflict, or a refusal.
enum RedemptionBatch {
    static func write(_ db: any SQLDatabase, _ engine: DatabaseEngine, _ batch: [RedemptionRequest], audits: inout [AuditRow],
                      events: inout [QueuedEvent]) async throws -> [Result<Redemption, any Error>] {
        guard !batch.isEmpty else { return [] }
        var results = [Result<Redemption, any Error>?](repeating: nil, count: batch.count)
        // Read without a lock: a right token needs only to know whether its scopes were over
        // the limit when the batch read them. Only refusals must be counted in line (below).
        var failures = try await failureCounts(db, batch)
        var live: [Int] = []
        for index in batch.indices {
            if batch[index].guessing.isExceeded(failures) {
                results[index] = .failure(GatehouseError(.rateLimited, "too many failed activations; try again later"))
            } else {
                live.append(index)
            }
        }
        let tokens = try await tokens(db, live.map { batch[$0] })
        var candidates: [(index: Int, token: FoundToken)] = []
        var others: [Int] = []
        var taken = Set<Int64>()
        for index in live {
            let request = batch[index]
            if let found = tokens[TokenKey(request.operatorId, request.tokenHash)], found.record.usedAt == nil,
               found.record.validTill == 0 || found.record.validTill > request.agent.at, !taken.contains(found.record.id) {
                taken.insert(found.record.id)
                candidates.append((index, found))
            } else {
                others.append(index)
            }
        }
        var refused: [(Int, GatehouseError?)] = []
        candidates = try await withinCameraLimits(db, engine, candidates) { refused.append(($0, $1)) }
        for (index, error) in refused {
            if let error { results[index] = .failure(error) } else { others.append(index) }
        }
        if !candidates.isEmpty {
            let ids = try await cameraIds(db, engine, count: candidates.count)
            var planned: [Int64: (index: Int, agent: AgentRecord, camera: Camera, path: String)] = [:]
            for (n, candidate) in candidates.enumerated() {
                let request = batch[candidate.index], token = candidate.token.record, at = request.agent.at
                let (deviceId, agentId) = (ids.devices[n], ids.agents[n])
                let agent = AgentRecord(id: agentId, operatorId: request.operatorId, serial: request.agent.serial, version: request.agent.version,
                                        mac: request.agent.mac, status: .active, tokenId: token.id, deviceId: deviceId, createdAt: at, lastSeenAt: nil)
                let camera = Camera(deviceId: deviceId, operatorId: request.operatorId, name: SQLStore.cameraName(title: token.title, deviceId: deviceId),
                                    title: token.title, organizationId: token.organizationId, presetId: token.presetId, agentId: agentId,
                                    agentSerial: agent.serial, agentVersion: agent.version, lastSeenAt: nil, createdAt: at)
                planned[token.id] = (candidate.index, agent, camera, candidate.token.organizationPath)
            }
            let won = engine == .postgres
                ? try await claimAndInsert(db, planned.map { CameraPlan(tokenId: $0.key, request: batch[$0.value.index], agent: $0.value.agent, camera: $0.value.camera) })
                : try await claim(db, engine, planned.map { (tokenId: $0.key, at: $0.value.camera.createdAt, agentId: $0.value.agent.id, name: $0.value.camera.name) })
            var made: [(request: RedemptionRequest, agent: AgentRecord, camera: Camera)] = []
            for candidate in candidates {
                guard let plan = planned[candidate.token.record.id] else { continue }
                guard won.contains(candidate.token.record.id) else {
                    others.append(plan.index)  // another node claimed it first
                    continue
                }
                made.append((batch[plan.index], plan.agent, plan.camera))
                results[plan.index] = .success(.activated(plan.agent, plan.camera))
                audits.append(AuditRow(at: plan.camera.createdAt, actor: "agent:\(plan.agent.id)", action: "camera.activate", targetType: "device",
                                       targetId: String(plan.camera.deviceId), tenantId: plan.camera.organizationId, tenantPath: plan.path,
                                       detail: "serial \(plan.agent.serial)"))
                let camera = plan.camera
                events.append((camera.operatorId, .cameraActivated, { SQLStore.cameraEventPayload(camera) }, camera.createdAt))
            }
            if engine != .postgres { try await insert(db, made) }
        }
        // The rest, one by one: each refusal counts at once against its scopes, so that within
        // the batch (and, the batch being serialized with every other one that guesses in the
        // same scopes, across batches and nodes) no more than the limit is ever checked. On
        // PostgreSQL that order is the scopes' advisory locks, taken only here, so batches
        // that redeem good tokens never wait for each other; the counters are read again
        // under the locks. (The locks come after every token row lock the batch takes, and
        // nothing below waits for a token row: no cycle with another batch.)
        if engine == .postgres, !others.isEmpty {
            let rest = others.map { batch[$0] }
            try await lockGuessingScopes(db, rest)
            failures = try await failureCounts(db, rest)
        }
        var refusals: [GuessBucket: Int64] = [:]
        for index in others.sorted() {
            let request = batch[index]
            if request.guessing.isExceeded(failures) {
                results[index] = .failure(GatehouseError(.rateLimited, "too many failed activations; try again later"))
                continue
            }
            let outcome = try await SQLStore.repeatRedemption(db, operatorId: request.operatorId, tokenHash: request.tokenHash,
                                                              agent: request.agent, retryWindow: request.retryWindow)
            if case .refused = outcome {
                for scope in request.guessing.scopes {
                    failures[scope, default: 0] += 1
                    refusals[GuessBucket(scope: scope, minute: request.agent.at / 60), default: 0] += 1
                }
            }
            results[index] = .success(outcome)
        }
        try await recordRefusals(db, refusals)
        return results.map { $0! }
    }

    /// A failure counter: one scope in one minute.
    struct GuessBucket: Hashable {
        var scope: String
        var minute: Int64
    }

    /// PostgreSQL: takes a transaction-scoped advisory lock on every guessing scope of the
    /// batch, in one order, before the counters are read, so that batches on other nodes
    /// guessing in the same scopes (operator, source address) wait for this one's failures to
    /// be counted rather than read the counters at the same time.
    static func lockGuessingScopes(_ db: any SQLDatabase, _ batch: [RedemptionRequest]) async throws {
        let keys = Set(batch.flatMap(\.guessing.scopes).map { scope in
            Int64(bitPattern: UInt64(Secrets.hash("activation-guessing:\(scope)").prefix(16), radix: 16) ?? 0)
        }).sorted()
        for key in keys { try await db.raw("SELECT pg_advisory_xact_lock(\(bind: key))").run() }
    }

    /// Adds the batch's refusals to the failure counters, in the batch's transaction.
    static func recordRefusals(_ db: any SQLDatabase, _ refusals: [GuessBucket: Int64]) async throws {
        guard !refusals.isEmpty else { return }
        for (bucket, count) in refusals.sorted(by: { ($0.key.scope, $0.key.minute) < ($1.key.scope, $1.key.minute) }) {
            try await db.raw("""
                INSERT INTO activation_failures (scope, minute, failures) VALUES (\(bind: bucket.scope), \(bind: bucket.minute), \(bind: count))
                ON CONFLICT (scope, minute) DO UPDATE SET failures = activation_failures.failures + \(bind: count)
                """).run()
        }
        if let newest = refusals.keys.map(\.minute).max() {
            try await db.raw("DELETE FROM activation_failures WHERE minute < \(bind: newest - 24 * 60)").run()
        }
    }

    /// A token as the batch reads it: with its organization's path and camera limit.
    struct FoundToken: Sendable {
        var record: ActivationTokenRecord
        var organizationPath: String
        var cameraLimit: Int64?
    }


    /// Failed redemptions per scope within each request's window (the widest one asked).
    static func failureCounts(_ db: any SQLDatabase, _ batch: [RedemptionRequest]) async throws -> [String: Int64] {
        let scopes = Set(batch.flatMap(\.guessing.scopes)).sorted()
        guard !scopes.isEmpty, let since = batch.map(\.guessing.sinceMinute).min() else { return [:] }
        var counts: [String: Int64] = [:]
        for row in try await db.rows(PostgresActivationStatements.FailureCounts(since: since, scopes: scopes), portable: portableFailureCounts(since, scopes)) {
            counts[try row.decode(column: "scope", as: String.self)] = try row.decode(column: "n", as: Int64.self)
        }
        return counts
    }

    static func portableFailureCounts(_ since: Int64, _ scopes: [String]) -> SQLQueryString {
        var query = SQLQueryString("SELECT scope, CAST(SUM(failures) AS BIGINT) AS n FROM activation_failures WHERE minute >= \(bind: since) AND scope IN (")
        for (index, scope) in scopes.enumerated() {
            if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
            query.appendInterpolation(bind: scope)
        }
        query.appendInterpolation(unsafeRaw: ") GROUP BY scope")
        return query
    }

    static let tokenColumns = SQLStore.activationTokenColumns.split(separator: ", ").map { "t.\($0)" }.joined(separator: ", ")

    /// Tokens with their hash, organization path and camera limit (the `WHERE` follows).
    static let tokenSelect = """
        SELECT \(tokenColumns), t.token_hash, n.path AS organization_path, p.camera_limit
        FROM activation_tokens t JOIN tenants n ON n.id = t.organization_id LEFT JOIN organization_profiles p ON p.tenant_id = t.organization_id
        """

    static func tokens(_ db: any SQLDatabase, _ requests: [RedemptionRequest]) async throws -> [TokenKey: FoundToken] {
        guard !requests.isEmpty else { return [:] }
        var found: [TokenKey: FoundToken] = [:]
        for chunk in requests.chunked(200) {
            let rows = try await db.rows(PostgresActivationStatements.Tokens(operators: chunk.map(\.operatorId), hashes: chunk.map(\.tokenHash)),
                                         portable: portableTokens(chunk))
            for row in rows {
                let token = try SQLStore.activationToken(from: row)
                found[TokenKey(token.operatorId, try row.decode(column: "token_hash", as: String.self))] = FoundToken(
                    record: token, organizationPath: try row.decode(column: "organization_path", as: String.self),
                    cameraLimit: try row.decode(column: "camera_limit", as: Int64?.self))
            }
        }
        return found
    }

    /// Both key columns, so that the (operator_id, token_hash) index answers.
    static func portableTokens(_ chunk: ArraySlice<RedemptionRequest>) -> SQLQueryString {
        let operators = Set(chunk.map(\.operatorId)).sorted()
        var query = SQLQueryString("\(unsafeRaw: tokenSelect) WHERE t.operator_id IN (\(unsafeRaw: operators.map(String.init).joined(separator: ","))) AND t.token_hash IN (")
        for (index, request) in chunk.enumerated() {
            if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
            query.appendInterpolation(bind: request.tokenHash)
        }
        query.appendInterpolation(unsafeRaw: ")")
        return query
    }

    /// The candidates whose organization can take one more camera, in order; the others are
    /// answered through `refuse`: `limit_exceeded`, or nil for a token another transaction
    /// redeemed meanwhile (it takes the single-request path). Organizations without a limit
    /// cost nothing; on PostgreSQL the profiles of limited ones are locked (and their limits
    /// read again), then the candidates' tokens are checked again — a redemption that made
    /// us wait may have used them — before the cameras are counted.
    static func withinCameraLimits(_ db: any SQLDatabase, _ engine: DatabaseEngine, _ candidates: [(index: Int, token: FoundToken)],
                                   refuse: (Int, GatehouseError?) -> Void) async throws -> [(index: Int, token: FoundToken)] {
        var limited = Set(candidates.filter { $0.token.cameraLimit != nil }.map(\.token.record.organizationId)).sorted()
        guard !limited.isEmpty else { return candidates }
        var candidates = candidates
        var limits: [Int64: Int64] = [:]
        for candidate in candidates { if let limit = candidate.token.cameraLimit { limits[candidate.token.record.organizationId] = limit } }
        if engine == .postgres {
            limits = [:]
            for row in try await db.raw("""
                SELECT tenant_id, camera_limit FROM organization_profiles WHERE tenant_id IN (\(unsafeRaw: limited.map(String.init).joined(separator: ",")))
                ORDER BY tenant_id FOR UPDATE
                """).all() {
                if let limit = try row.decode(column: "camera_limit", as: Int64?.self) { limits[try row.decode(column: "tenant_id", as: Int64.self)] = limit }
            }
            limited = limits.keys.sorted()
            var free = Set<Int64>()
            for row in try await db.raw("""
                SELECT id FROM activation_tokens WHERE id IN (\(unsafeRaw: candidates.map { String($0.token.record.id) }.joined(separator: ","))) AND used_at IS NULL
                """).all() {
                free.insert(try row.decode(column: "id", as: Int64.self))
            }
            for candidate in candidates where !free.contains(candidate.token.record.id) { refuse(candidate.index, nil) }
            candidates = candidates.filter { free.contains($0.token.record.id) }
        }
        var held: [Int64: Int64] = [:]
        if !limited.isEmpty {
            for row in try await db.raw("""
                SELECT organization_id, COUNT(*) AS n FROM cameras WHERE organization_id IN (\(unsafeRaw: limited.map(String.init).joined(separator: ",")))
                GROUP BY organization_id
                """).all() {
                held[try row.decode(column: "organization_id", as: Int64.self)] = try row.decode(column: "n", as: Int64.self)
            }
        }
        var accepted: [(index: Int, token: FoundToken)] = []
        for candidate in candidates {
            let organization = candidate.token.record.organizationId
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
    static func claim(_ db: any SQLDatabase, _ engine: DatabaseEngine, _ claims: [(tokenId: Int64, at: Int64, agentId: Int64, name: String)]) async throws -> Set<Int64> {
        var won = Set<Int64>()
        for chunk in claims.sorted(by: { $0.tokenId < $1.tokenId }).chunked(100) {
            var query = SQLQueryString("UPDATE activation_tokens SET used_at = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN "); query.appendInterpolation(bind: claim.at) }
            query.appendInterpolation(unsafeRaw: " END, agent_id = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN \(claim.agentId)") }
            query.appendInterpolation(unsafeRaw: " END, camera_name = CASE id")
            for claim in chunk { query.appendInterpolation(unsafeRaw: " WHEN \(claim.tokenId) THEN "); query.appendInterpolation(bind: claim.name) }
            let ids = chunk.map { String($0.tokenId) }.joined(separator: ",")
            // On PostgreSQL the rows are locked in id order first, so that batches claiming
            // overlapping tokens (on this node or another) wait for each other, never deadlock.
            let locked = engine == .postgres ? "SELECT id FROM activation_tokens WHERE id IN (\(ids)) AND used_at IS NULL ORDER BY id FOR UPDATE" : ids
            query.appendInterpolation(unsafeRaw: " END WHERE used_at IS NULL AND id IN (\(locked))")
            query.appendInterpolation(unsafeRaw: " RETURNING id")
            for row in try await db.raw(query).all() { won.insert(try row.decode(column: "id", as: Int64.self)) }
        }
        return won
    }

    /// A camera the batch means to make for a free token.
    struct CameraPlan: Sendable {
        var tokenId: Int64
        var request: RedemptionRequest
        var agent: AgentRecord
        var camera: Camera
    }

    /// New ids for `count` cameras: their devices and their agents (on PostgreSQL one
    /// prepared statement).
    static func cameraIds(_ db: any SQLDatabase, _ engine: DatabaseEngine, count: Int) async throws -> (devices: [Int64], agents: [Int64]) {
        guard let postgres = db as? GuardedPostgresSQL else {
            let ids = try await MultiRowSQL.reserveIds(db, engine, tables: ["devices", "agents"], count: count)
            return (ids["devices"]!, ids["agents"]!)
        }
        let rows = try await postgres.rows(of: PostgresActivationStatements.CameraIds(count: Int64(count)))
        return (try rows.map { try $0.decode(column: "devices", as: Int64.self) }, try rows.map { try $0.decode(column: "agents", as: Int64.self) })
    }

    /// PostgreSQL: claims the free tokens among `plans` and writes the winners' devices,
    /// agents and cameras in one prepared statement (``PostgresActivationStatements/ClaimAndInsert``),
    /// so that a batch costs one round trip here instead of four. Rows are locked in id order
    /// first, as in ``claim(_:_:_:)``. Answers the ids claimed.
    static func claimAndInsert(_ db: any SQLDatabase, _ plans: [CameraPlan]) async throws -> Set<Int64> {
        guard let postgres = db as? GuardedPostgresSQL else { throw GatehouseError(.internal, "claimAndInsert runs on PostgreSQL only") }
        let rows = try await postgres.rows(of: PostgresActivationStatements.ClaimAndInsert(plans: plans.sorted { $0.tokenId < $1.tokenId }))
        return Set(try rows.map { try $0.decode(column: "id", as: Int64.self) })
    }

    /// Devices, agents and cameras of the winners.
    static func insert(_ db: any SQLDatabase, _ made: [(request: RedemptionRequest, agent: AgentRecord, camera: Camera)]) async throws {
        for chunk in made.chunked(100) {
            try await db.raw(MultiRowSQL.rows("INSERT INTO devices (id, tenant_id, kind, name, serial, created_at, updated_at) VALUES ", chunk) {
                [$0.camera.deviceId, $0.camera.organizationId, "camera", $0.camera.title, $0.agent.serial, $0.camera.createdAt, $0.camera.createdAt]
            }).run()
            try await db.raw(MultiRowSQL.rows("INSERT INTO agents (id, operator_id, key_hash, serial, version, mac, status, token_id, device_id, created_at) VALUES ", chunk) {
                [$0.agent.id, $0.agent.operatorId, $0.request.agent.keyHash, $0.agent.serial, $0.agent.version, $0.agent.mac, "active", $0.agent.tokenId,
                 $0.agent.deviceId, $0.agent.createdAt]
            }).run()
            try await db.raw(MultiRowSQL.rows("INSERT INTO cameras (device_id, operator_id, name, organization_id, preset_id, agent_id) VALUES ", chunk) {
                [$0.camera.deviceId, $0.camera.operatorId, $0.camera.name, $0.camera.organizationId, $0.camera.presetId, $0.agent.id]
            }).run()
        }
    }
}
