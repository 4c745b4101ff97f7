import GatehouseCore
import SQLKit

/// Signed onboarding (seed 004), part 2: onboarded endpoints, their devices and certificates,
/// and the revocation list.
extension SQLStore {
    static let endpointColumnList = """
        id, device_id, tenant_id, application_id, certification_version_id, external_id, gateway, device_alternate_id, capability_alternate_id, \
        sensor_alternate_id, certificate_serial, status, created_at, updated_at, parent_endpoint_id, capabilities_at
        """
    static let endpointColumns = """
        e.id, e.device_id, e.tenant_id, e.application_id, e.certification_version_id, e.external_id, e.gateway, e.device_alternate_id, \
        e.capability_alternate_id, e.sensor_alternate_id, e.certificate_serial, e.status, e.created_at, e.updated_at, e.parent_endpoint_id, e.capabilities_at
        """

    static func onboardedEndpoint(from row: any SQLRow) throws -> OnboardedEndpoint {
        let gatewayText = try row.decode(column: "gateway", as: String.self), statusText = try row.decode(column: "status", as: String.self)
        guard let gateway = OnboardingGateway(rawValue: gatewayText), let status = OnboardedEndpoint.Status(rawValue: statusText) else {
            throw GatehouseError(.internal, "unknown endpoint gateway or status in the database")
        }
        return OnboardedEndpoint(
            id: try row.decode(column: "id", as: Int64.self), deviceId: try row.decode(column: "device_id", as: Int64?.self),
            tenantId: try row.decode(column: "tenant_id", as: Int64.self), applicationId: try row.decode(column: "application_id", as: Int64.self),
            certificationVersionId: try row.decode(column: "certification_version_id", as: Int64.self),
            externalId: try row.decode(column: "external_id", as: String.self), gateway: gateway,
            alternateIds: AlternateIds(device: try row.decode(column: "device_alternate_id", as: String.self),
                                       capability: try row.decode(column: "capability_alternate_id", as: String.self),
                                       sensor: try row.decode(column: "sensor_alternate_id", as: String.self)),
            certificateSerial: try row.decode(column: "certificate_serial", as: String?.self), status: status,
            createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self),
            parentEndpointId: try row.decode(column: "parent_endpoint_id", as: Int64?.self),
            capabilitiesAt: try row.decode(column: "capabilities_at", as: Int64?.self))
    }

    public func endpoint(tenantId: Int64, applicationId: Int64, externalId: String) async throws -> OnboardedEndpoint? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints
                WHERE tenant_id = \(bind: tenantId) AND application_id = \(bind: applicationId) AND external_id = \(bind: externalId)
                """).first().map(Self.onboardedEndpoint(from:))
        }
    }

    public func endpoint(deviceAlternateId: String) async throws -> OnboardedEndpoint? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints WHERE device_alternate_id = \(bind: deviceAlternateId)")
                .first().map(Self.onboardedEndpoint(from:))
        }
    }

    public func endpoints(under path: String, limit: Int, offset: Int) async throws -> OffsetPage<OnboardedEndpoint> {
        try await database.withConnection { db in
            let filter = SQLQueryString("t.path LIKE \(bind: Self.likePrefix(path))")
            let total = try await db.raw("SELECT COUNT(*) AS n FROM onboarded_endpoints e JOIN tenants t ON t.id = e.tenant_id WHERE \(filter)").first()?
                .decode(column: "n", as: Int64.self) ?? 0
            let items = try await db.raw("""
                SELECT \(unsafeRaw: Self.endpointColumns) FROM onboarded_endpoints e JOIN tenants t ON t.id = e.tenant_id WHERE \(filter)
                ORDER BY e.id LIMIT \(unsafeRaw: String(max(limit, 0))) OFFSET \(unsafeRaw: String(max(offset, 0)))
                """).all().map(Self.onboardedEndpoint(from:))
            return OffsetPage(items: items, total: total, limit: limit, offset: offset)
        }
    }

    // MARK: Onboarding

    public func onboard(_ onboarding: EndpointOnboarding, audit: AuditIntent) async throws -> OnboardedEndpoint {
        let o = onboarding, lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            // The code first: a used (or meanwhile used) code writes nothing. On PostgreSQL a
            // concurrent use of the same code waits here and then finds it used.
            if let codeId = o.registrationCodeId {
                guard try await db.raw("""
                    UPDATE registration_codes SET used_at = \(bind: o.at)
                    WHERE id = \(bind: codeId) AND tenant_id = \(bind: o.tenantId) AND used_at IS NULL AND expires_at > \(bind: o.at)
                    RETURNING id
                    """).first() != nil else { throw GatehouseError(.unauthenticated, "the registration code is not valid") }
            }

            let existing = try await db.raw("""
                SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints
                WHERE tenant_id = \(bind: o.tenantId) AND application_id = \(bind: o.applicationId) AND external_id = \(bind: o.externalId)\(unsafeRaw: lock)
                """).first().map(Self.onboardedEndpoint(from:))
            let ids = o.alternateIds
            let endpoint: OnboardedEndpoint
            if let existing, existing.status != .revoked {
                guard existing.status != .blocked else { throw GatehouseError(.endpointBlocked, "the endpoint is blocked") }
                // Another onboarding of this endpoint got there first with other ids (or another gateway).
                guard existing.alternateIds == ids, existing.gateway == o.gateway else {
                    throw GatehouseError(.conflict, "the endpoint was onboarded meanwhile with other ids")
                }
                // Its device, or a new one if the device was deleted from the registry meanwhile.
                var deviceId = existing.deviceId
                if deviceId == nil { deviceId = try await Self.insertEndpointDevice(db, o) }
                guard let row = try await db.raw("""
                    UPDATE onboarded_endpoints SET device_id = \(bind: deviceId), certification_version_id = \(bind: o.certificationVersionId),
                        certificate_serial = \(bind: o.certificate.serial), updated_at = \(bind: o.at)
                    WHERE id = \(bind: existing.id) RETURNING \(unsafeRaw: Self.endpointColumnList)
                    """).first() else { throw GatehouseError(.conflict, "the endpoint was removed meanwhile") }
                endpoint = try Self.onboardedEndpoint(from: row)
                if let previous = existing.certificateSerial, previous != o.certificate.serial {
                    _ = try await Self.revokeIssuedCertificates(db, serials: [previous], at: o.at)
                }
            } else if let existing {
                // A revoked endpoint onboarded again: its row (kept for history) takes the new ids and a new device.
                let deviceId = try await Self.insertEndpointDevice(db, o)
                guard let row = try await db.raw("""
                    UPDATE onboarded_endpoints SET device_id = \(bind: deviceId), certification_version_id = \(bind: o.certificationVersionId),
                        gateway = \(bind: o.gateway.rawValue), device_alternate_id = \(bind: ids.device), capability_alternate_id = \(bind: ids.capability),
                        sensor_alternate_id = \(bind: ids.sensor), certificate_serial = \(bind: o.certificate.serial), status = 'active', updated_at = \(bind: o.at),
                        parent_endpoint_id = \(bind: o.parentEndpointId), capabilities_at = NULL
                    WHERE id = \(bind: existing.id) RETURNING \(unsafeRaw: Self.endpointColumnList)
                    """).first() else { throw GatehouseError(.conflict, "the endpoint was removed meanwhile") }
                endpoint = try Self.onboardedEndpoint(from: row)
            } else {
                let deviceId = try await Self.insertEndpointDevice(db, o)
                // A concurrent onboarding of the same new external id inserts nothing here and is a
                // conflict (on PostgreSQL it waits for the other transaction to end first).
                guard let row = try await db.raw("""
                    INSERT INTO onboarded_endpoints (device_id, tenant_id, application_id, certification_version_id, external_id, gateway,
                        device_alternate_id, capability_alternate_id, sensor_alternate_id, certificate_serial, status, created_at, updated_at, parent_endpoint_id)
                    VALUES (\(bind: deviceId), \(bind: o.tenantId), \(bind: o.applicationId), \(bind: o.certificationVersionId), \(bind: o.externalId),
                        \(bind: o.gateway.rawValue), \(bind: ids.device), \(bind: ids.capability), \(bind: ids.sensor), \(bind: o.certificate.serial),
                        'active', \(bind: o.at), \(bind: o.at), \(bind: o.parentEndpointId))
                    ON CONFLICT DO NOTHING RETURNING \(unsafeRaw: Self.endpointColumnList)
                    """).first() else { throw GatehouseError(.conflict, "the endpoint was onboarded meanwhile") }
                endpoint = try Self.onboardedEndpoint(from: row)
            }
            try await Self.insertIssuedCertificate(db, o.certificate)
            try await Self.audit(db, at: o.at, intent: audit, action: "endpoint.onboard", targetType: "endpoint", targetId: ids.device, tenantId: o.tenantId)
            return endpoint
        }
    }

    /// The device that stands for an endpoint in the registry, inside the caller's transaction.
    static func insertEndpointDevice(_ db: any SQLDatabase, _ o: EndpointOnboarding) async throws -> Int64 {
        guard let row = try await db.raw("""
            INSERT INTO devices (tenant_id, kind, name, serial, created_at, updated_at)
            VALUES (\(bind: o.tenantId), 'endpoint', \(bind: o.externalId), \(bind: o.alternateIds.device), \(bind: o.at), \(bind: o.at)) RETURNING id
            """).first() else { throw GatehouseError(.internal, "insert returned no id") }
        return try row.decode(column: "id", as: Int64.self)
    }

    // MARK: Revocation

    public func revokeEndpoints(tenantId: Int64, applicationId: Int64, deviceAlternateIds: [String], at: Int64, audit: AuditIntent) async throws
        -> (revoked: [OnboardedEndpoint], missing: [String]) {
        var unique: [String] = [], seen = Set<String>()
        for id in deviceAlternateIds where seen.insert(id).inserted { unique.append(id) }
        let named = unique
        guard !named.isEmpty else { return ([], []) }
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await invalidating { try await database.transaction { db in
            // PostgreSQL: the rows are locked in id order, against onboardings and other revocations.
            var found: [OnboardedEndpoint] = []
            for chunk in named.chunked(500) {
                var inList = SQLQueryString("")
                inList.appendInterpolation(binds: Array(chunk))
                found += try await db.raw("""
                    SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints
                    WHERE tenant_id = \(bind: tenantId) AND application_id = \(bind: applicationId) AND status = 'active' AND device_alternate_id IN (\(inList))
                    ORDER BY id\(unsafeRaw: lock)
                    """).all().map(Self.onboardedEndpoint(from:))
            }
            let present = Set(found.map(\.alternateIds.device))
            let missing = named.filter { !present.contains($0) }
            guard missing.isEmpty else { return ([], missing) }
            // A telemetry platform's virtual CUs go with it.
            var known = Set(found.map(\.id))
            for chunk in found.chunked(500) {
                let parents = chunk.map { String($0.id) }.joined(separator: ", ")
                let children = try await db.raw("""
                    SELECT \(unsafeRaw: Self.endpointColumnList) FROM onboarded_endpoints
                    WHERE parent_endpoint_id IN (\(unsafeRaw: parents)) AND status = 'active' ORDER BY id\(unsafeRaw: lock)
                    """).all().map(Self.onboardedEndpoint(from:))
                for child in children where known.insert(child.id).inserted { found.append(child) }
            }
            found.sort { $0.id < $1.id }
            for chunk in found.chunked(500) {
                let ids = chunk.map { String($0.id) }.joined(separator: ", ")
                try await db.raw("""
                    UPDATE onboarded_endpoints SET status = 'revoked', device_id = NULL, capabilities_at = NULL, updated_at = \(bind: at) WHERE id IN (\(unsafeRaw: ids))
                    """).run()
                try await db.raw("DELETE FROM endpoint_capabilities WHERE endpoint_id IN (\(unsafeRaw: ids))").run()
                try await db.raw("DELETE FROM gateway_messages WHERE recipient_endpoint_id IN (\(unsafeRaw: ids))").run()
                let devices = chunk.compactMap(\.deviceId).map(String.init).joined(separator: ", ")
                if !devices.isEmpty { try await db.raw("DELETE FROM devices WHERE id IN (\(unsafeRaw: devices))").run() }
            }
            _ = try await Self.revokeIssuedCertificates(db, serials: found.compactMap(\.certificateSerial), at: at)
            var revoked: [OnboardedEndpoint] = []
            for var endpoint in found {
                try await Self.audit(db, at: at, intent: audit, action: "endpoint.revoke", targetType: "endpoint", targetId: endpoint.alternateIds.device,
                                     tenantId: tenantId)
                endpoint.status = .revoked
                endpoint.deviceId = nil
                endpoint.updatedAt = at
                revoked.append(endpoint)
            }
            return (revoked, [])
        } }
    }

    public func revokedCertificates(now: Int64) async throws -> [IssuedCertificate] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT serial, purpose, subject, not_after, revoked_at, created_at FROM issued_certificates
                WHERE revoked_at IS NOT NULL AND not_after > \(bind: now) ORDER BY serial
                """).all().map(Self.issuedCertificate(from:))
        }
    }
}

/// Signed onboarding (seed 004): SQLStore+Applications and SQLStore+Endpoints hold the queries.
extension SQLStore: OnboardingStore {}
