import Foundation
import GatehouseCore
import SQLKit

/// Signed onboarding (seed 004), part 1: applications with their certification versions,
/// accounts' public ids, registration codes and seen signed requests. Endpoints are in
/// SQLStore+Endpoints.
extension SQLStore {
    static let applicationColumns = "a.id, a.application_id, a.tenant_id, a.name, a.public_key_pem, a.redirect_urls, a.created_at, a.updated_at"
    static let versionColumns = "v.id, v.version_id, v.application_id, v.name, v.status, v.cu_onboarding, v.created_at"
    static let registrationCodeColumns = "c.id, c.tenant_id, c.user_id, c.application_id, c.expires_at, c.used_at, c.created_at"

    static func onboardingApplication(from row: any SQLRow) throws -> OnboardingApplication {
        let urls = try row.decode(column: "redirect_urls", as: String.self)
        return OnboardingApplication(
            id: try row.decode(column: "id", as: Int64.self), applicationId: try row.decode(column: "application_id", as: String.self),
            tenantId: try row.decode(column: "tenant_id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            publicKeyPEM: try row.decode(column: "public_key_pem", as: String?.self),
            redirectURLs: (try? JSONDecoder().decode([String].self, from: Data(urls.utf8))) ?? [],
            createdAt: try row.decode(column: "created_at", as: Int64.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    /// Redirect URLs as stored: a JSON array of strings.
    static func redirectURLsText(_ urls: [String]) -> String {
        (try? JSONEncoder().encode(urls)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    static func certificationVersion(from row: any SQLRow) throws -> CertificationVersion {
        let statusText = try row.decode(column: "status", as: String.self)
        guard let status = CertificationStatus(rawValue: statusText) else { throw GatehouseError(.internal, "unknown certification status in the database") }
        return CertificationVersion(
            id: try row.decode(column: "id", as: Int64.self), versionId: try row.decode(column: "version_id", as: String.self),
            applicationId: try row.decode(column: "application_id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            status: status, cuOnboarding: try row.decode(column: "cu_onboarding", as: Int64.self) != 0,
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    static func registrationCode(from row: any SQLRow) throws -> RegistrationCode {
        RegistrationCode(
            id: try row.decode(column: "id", as: Int64.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self),
            userId: try row.decode(column: "user_id", as: Int64?.self), applicationId: try row.decode(column: "application_id", as: Int64?.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64.self), usedAt: try row.decode(column: "used_at", as: Int64?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }

    // MARK: Applications

    public func createApplication(_ application: OnboardingApplication, audit: AuditIntent) async throws -> OnboardingApplication {
        try await database.transaction { db in
            if try await db.raw("SELECT id FROM onboarding_applications WHERE application_id = \(bind: application.applicationId)").first() != nil {
                throw GatehouseError(.conflict, "the application id \(application.applicationId) is taken", field: "application_id")
            }
            // The unique index stands behind the check for concurrent creations.
            guard let row = try await db.raw("""
                INSERT INTO onboarding_applications (application_id, tenant_id, name, public_key_pem, redirect_urls, created_at, updated_at)
                VALUES (\(bind: application.applicationId), \(bind: application.tenantId), \(bind: application.name), \(bind: application.publicKeyPEM),
                        \(bind: Self.redirectURLsText(application.redirectURLs)), \(bind: application.createdAt), \(bind: application.updatedAt))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            var created = application
            created.id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: application.createdAt, intent: audit, action: "application.create", targetType: "application",
                                 targetId: application.applicationId, tenantId: application.tenantId)
            return created
        }
    }

    public func application(id: Int64) async throws -> OnboardingApplication? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.applicationColumns) FROM onboarding_applications a WHERE a.id = \(bind: id)").first()
                .map(Self.onboardingApplication(from:))
        }
    }

    public func application(applicationId: String) async throws -> OnboardingApplication? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.applicationColumns) FROM onboarding_applications a WHERE a.application_id = \(bind: applicationId)")
                .first().map(Self.onboardingApplication(from:))
        }
    }

    public func applications(under path: String) async throws -> [OnboardingApplication] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.applicationColumns) FROM onboarding_applications a JOIN tenants t ON t.id = a.tenant_id
                WHERE t.path LIKE \(bind: Self.likePrefix(path)) ORDER BY a.id
                """).all().map(Self.onboardingApplication(from:))
        }
    }

    public func updateApplication(_ application: OnboardingApplication, audit: AuditIntent) async throws -> OnboardingApplication {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE onboarding_applications SET name = \(bind: application.name), public_key_pem = \(bind: application.publicKeyPEM),
                    redirect_urls = \(bind: Self.redirectURLsText(application.redirectURLs)), updated_at = \(bind: application.updatedAt)
                WHERE id = \(bind: application.id)
                RETURNING id, application_id, tenant_id, name, public_key_pem, redirect_urls, created_at, updated_at
                """).first() else { throw GatehouseError.notFound("application", application.applicationId) }
            let updated = try Self.onboardingApplication(from: row)
            try await Self.audit(db, at: application.updatedAt, intent: audit, action: "application.update", targetType: "application",
                                 targetId: updated.applicationId, tenantId: updated.tenantId)
            return updated
        }
    }

    public func deleteApplication(id: Int64, at: Int64, audit: AuditIntent) async throws {
        let engine = database.engine
        try await invalidating { try await database.transaction { db in
            // PostgreSQL: the application row, then its endpoints in id order (as revocations lock
            // them), so that no onboarding makes or revives an endpoint behind the check.
            let lock = engine == .postgres ? " FOR UPDATE" : ""
            guard let row = try await db.raw("SELECT application_id, tenant_id FROM onboarding_applications WHERE id = \(bind: id)\(unsafeRaw: lock)").first()
            else { throw GatehouseError.notFound("application", id) }
            let endpoints = try await db.raw("""
                SELECT id, status, device_id, certificate_serial FROM onboarded_endpoints WHERE application_id = \(bind: id) ORDER BY id\(unsafeRaw: lock)
                """).all()
            if try endpoints.contains(where: { try $0.decode(column: "status", as: String.self) == OnboardedEndpoint.Status.active.rawValue }) {
                throw GatehouseError(.conflict, "the application has active endpoints; revoke them first")
            }
            // Endpoints that are not active (revoked or blocked) go with the application: their
            // devices too, and their certificates are revoked.
            let serials = try endpoints.compactMap { try $0.decode(column: "certificate_serial", as: String?.self) }
            _ = try await Self.revokeIssuedCertificates(db, serials: serials, at: at)
            let devices = try endpoints.compactMap { try $0.decode(column: "device_id", as: Int64?.self) }
            for chunk in devices.chunked(500) {
                try await db.raw("DELETE FROM devices WHERE id IN (\(unsafeRaw: chunk.map(String.init).joined(separator: ", ")))").run()
            }
            try await db.raw("DELETE FROM onboarding_applications WHERE id = \(bind: id)").run()
            try await Self.audit(db, at: at, intent: audit, action: "application.delete", targetType: "application",
                                 targetId: try row.decode(column: "application_id", as: String.self), tenantId: try row.decode(column: "tenant_id", as: Int64.self))
        } }
    }

    // MARK: Certification versions

    public func createCertificationVersion(_ version: CertificationVersion, audit: AuditIntent) async throws -> CertificationVersion {
        try await database.transaction { db in
            guard let owner = try await db.raw("SELECT tenant_id FROM onboarding_applications WHERE id = \(bind: version.applicationId)").first() else {
                throw GatehouseError.notFound("application", version.applicationId)
            }
            if try await db.raw("SELECT id FROM certification_versions WHERE version_id = \(bind: version.versionId)").first() != nil {
                throw GatehouseError(.conflict, "the certification version id \(version.versionId) is taken", field: "version_id")
            }
            guard let row = try await db.raw("""
                INSERT INTO certification_versions (version_id, application_id, name, status, cu_onboarding, created_at)
                VALUES (\(bind: version.versionId), \(bind: version.applicationId), \(bind: version.name), \(bind: version.status.rawValue),
                        \(bind: Int64(version.cuOnboarding ? 1 : 0)), \(bind: version.createdAt))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            var created = version
            created.id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: version.createdAt, intent: audit, action: "certification_version.create", targetType: "certification_version",
                                 targetId: version.versionId, tenantId: try owner.decode(column: "tenant_id", as: Int64.self))
            return created
        }
    }

    public func certificationVersions(applicationId: Int64) async throws -> [CertificationVersion] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.versionColumns) FROM certification_versions v WHERE v.application_id = \(bind: applicationId) ORDER BY v.id")
                .all().map(Self.certificationVersion(from:))
        }
    }

    public func certificationVersion(versionId: String) async throws -> CertificationVersion? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.versionColumns) FROM certification_versions v WHERE v.version_id = \(bind: versionId)")
                .first().map(Self.certificationVersion(from:))
        }
    }

    public func updateCertificationVersion(_ version: CertificationVersion, at: Int64, audit: AuditIntent) async throws -> CertificationVersion {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE certification_versions SET name = \(bind: version.name), status = \(bind: version.status.rawValue),
                    cu_onboarding = \(bind: Int64(version.cuOnboarding ? 1 : 0))
                WHERE id = \(bind: version.id) RETURNING id, version_id, application_id, name, status, cu_onboarding, created_at
                """).first() else { throw GatehouseError.notFound("certification version", version.versionId) }
            let updated = try Self.certificationVersion(from: row)
            let owner = try await db.raw("SELECT tenant_id FROM onboarding_applications WHERE id = \(bind: updated.applicationId)").first()?
                .decode(column: "tenant_id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "certification_version.update", targetType: "certification_version",
                                 targetId: updated.versionId, tenantId: owner)
            return updated
        }
    }

    // MARK: Accounts and registration codes

    public func accountUUID(tenantId: Int64, newUUID: String) async throws -> String {
        // Read first: every verify asks, and only the first one per account writes.
        let existing = try await database.withConnection { db in
            try await db.raw("SELECT account_uuid FROM onboarding_accounts WHERE tenant_id = \(bind: tenantId)").first()?
                .decode(column: "account_uuid", as: String.self)
        }
        if let existing { return existing }
        return try await database.transaction { db in
            try await db.raw("INSERT INTO onboarding_accounts (tenant_id, account_uuid) VALUES (\(bind: tenantId), \(bind: newUUID)) ON CONFLICT DO NOTHING").run()
            guard let row = try await db.raw("SELECT account_uuid FROM onboarding_accounts WHERE tenant_id = \(bind: tenantId)").first() else {
                throw GatehouseError(.conflict, "the account's public id could not be stored")
            }
            return try row.decode(column: "account_uuid", as: String.self)
        }
    }

    public func account(uuid: String) async throws -> Tenant? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT t.id, t.key, t.kind, t.parent_id, t.name, t.enabled, t.path, t.created_at, t.updated_at
                FROM onboarding_accounts a JOIN tenants t ON t.id = a.tenant_id WHERE a.account_uuid = \(bind: uuid)
                """).first().map(Self.tenant(from:))
        }
    }

    public func createRegistrationCode(_ code: RegistrationCode, codeHash: String, audit: AuditIntent) async throws -> RegistrationCode {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO registration_codes (code_hash, tenant_id, user_id, application_id, expires_at, used_at, created_at)
                VALUES (\(bind: codeHash), \(bind: code.tenantId), \(bind: code.userId), \(bind: code.applicationId), \(bind: code.expiresAt),
                        \(bind: code.usedAt), \(bind: code.createdAt))
                RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            var created = code
            created.id = try row.decode(column: "id", as: Int64.self)
            // Codes expired for a day are of no use to anyone: a few go with each new one.
            try await db.raw("""
                DELETE FROM registration_codes WHERE id IN (
                    SELECT id FROM registration_codes WHERE expires_at < \(bind: code.createdAt - 86_400) ORDER BY expires_at LIMIT 16)
                """).run()
            try await Self.audit(db, at: code.createdAt, intent: audit, action: "registration_code.create", targetType: "registration_code",
                                 targetId: String(created.id), tenantId: code.tenantId)
            return created
        }
    }

    public func registrationCode(hash: String) async throws -> RegistrationCode? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.registrationCodeColumns) FROM registration_codes c WHERE c.code_hash = \(bind: hash)")
                .first().map(Self.registrationCode(from:))
        }
    }

    // MARK: Signed requests

    public func recordSignedRequest(fingerprint: String, at: Int64, expiresAt: Int64) async throws -> Bool {
        try await signedRequests.submit(SignedRequestRecord(fingerprint: fingerprint, at: at, expiresAt: expiresAt))
    }
}
