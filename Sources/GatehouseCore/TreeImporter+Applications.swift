import Foundation

/// The `applications` of an import file: signed-onboarding applications (seed 004) with their
/// certification versions. Checked with the rest of the document before anything is written.
extension TreeImporter {
    /// An application entry checked against the file and the store.
    struct PlannedApplication: Sendable {
        var tenant: String
        var name: String
        /// The canonical application id, when the entry gives one.
        var applicationId: String?
        /// The public key as it is stored (trimmed, one final newline).
        var publicKeyPEM: String?
        var redirectURLs: [String]?
        /// The stored application this entry names (by id, or by owner and name).
        var existing: OnboardingApplication?
        var versions: [PlannedVersion]
    }

    /// A certification version entry checked against the file and the store.
    struct PlannedVersion: Sendable {
        var name: String
        var versionId: String?
        var status: CertificationStatus?
        var cuOnboarding: Bool?
        var existing: CertificationVersion?
    }

    /// Validates the document's applications against themselves and the store.
    func planApplications(_ document: TreeDocument) async throws -> [PlannedApplication] {
        guard !document.applications.isEmpty else { return [] }
        guard let onboarding else { throw GatehouseError.invalid("applications", "this store does not keep applications") }
        let fileTenants = Set(document.tenants.map(\.key))
        var applicationIds: Set<String> = [], versionIds: Set<String> = [], unnamed: Set<String> = [], claimed: Set<Int64> = []
        var planned: [PlannedApplication] = []
        for (index, entry) in document.applications.enumerated() {
            let field = "applications[\(index)]"
            let name = try Validation.name(entry.name, field: "\(field).name")
            let owner = try await store.tenant(key: entry.tenant)
            guard owner != nil || fileTenants.contains(entry.tenant) else {
                throw GatehouseError.invalid("\(field).tenant", "unknown tenant \(entry.tenant)")
            }
            var applicationId: String?
            if let text = entry.applicationId {
                guard let id = Onboarding.uuid(text) else { throw GatehouseError.invalid("\(field).application_id", "application_id must be a UUID") }
                guard applicationIds.insert(id).inserted else { throw GatehouseError.invalid("\(field).application_id", "\(id) appears twice") }
                applicationId = id
            }
            var publicKeyPEM: String?
            if let pem = entry.publicKey {
                do {
                    _ = try RSAPublicKey(pem: pem)
                } catch {
                    throw GatehouseError.invalid("\(field).public_key", error.message)
                }
                publicKeyPEM = pem.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
            }
            var redirectURLs: [String]?
            if let urls = entry.redirectUrls {
                do {
                    redirectURLs = try Onboarding.redirectURLs(urls)
                } catch {
                    throw GatehouseError.invalid("\(field).redirect_urls", error.message)
                }
            }

            // The stored application this entry names: by id, else the owner's only one of that name.
            var existing: OnboardingApplication?
            if let applicationId {
                existing = try await onboarding.application(applicationId: applicationId)
                if let existing, existing.tenantId != owner?.id {
                    throw GatehouseError(.conflict, "application \(applicationId) exists in another node; moving applications is not supported",
                                         field: "\(field).tenant")
                }
            } else {
                guard unnamed.insert("\(entry.tenant)\u{0}\(name)").inserted else {
                    throw GatehouseError.invalid("\(field).name", "node \(entry.tenant) has two applications named \(name) without an application_id")
                }
                if let owner {
                    let same = try await onboarding.applications(under: owner.path).filter { $0.tenantId == owner.id && $0.name == name }
                    guard same.count <= 1 else {
                        throw GatehouseError.invalid("\(field).application_id",
                                                     "node \(entry.tenant) has \(same.count) applications named \(name); give the application_id of the one meant")
                    }
                    existing = same.first
                }
            }
            if let existing, !claimed.insert(existing.id).inserted {
                throw GatehouseError.invalid(field, "application \(existing.applicationId) is named twice in the file")
            }

            let stored = try await existing.asyncMap { try await onboarding.certificationVersions(applicationId: $0.id) } ?? []
            var versions: [PlannedVersion] = [], versionNames: Set<String> = [], claimedVersions: Set<Int64> = []
            for (versionIndex, version) in (entry.versions ?? []).enumerated() {
                let versionField = "\(field).versions[\(versionIndex)]"
                let versionName = try Validation.name(version.name, field: "\(versionField).name")
                var versionId: String?, match: CertificationVersion?
                if let text = version.versionId {
                    guard let id = Onboarding.uuid(text) else { throw GatehouseError.invalid("\(versionField).version_id", "version_id must be a UUID") }
                    guard versionIds.insert(id).inserted else { throw GatehouseError.invalid("\(versionField).version_id", "\(id) appears twice") }
                    versionId = id
                    if let found = try await onboarding.certificationVersion(versionId: id) {
                        guard found.applicationId == existing?.id else {
                            throw GatehouseError(.conflict, "certification version \(id) belongs to another application; moving versions is not supported",
                                                 field: "\(versionField).version_id")
                        }
                        match = found
                    }
                } else {
                    guard versionNames.insert(versionName).inserted else {
                        throw GatehouseError.invalid("\(versionField).name", "two versions named \(versionName) without a version_id")
                    }
                    let same = stored.filter { $0.name == versionName }
                    guard same.count <= 1 else {
                        throw GatehouseError.invalid("\(versionField).version_id",
                                                     "the application has \(same.count) versions named \(versionName); give the version_id of the one meant")
                    }
                    match = same.first
                }
                if let match, !claimedVersions.insert(match.id).inserted {
                    throw GatehouseError.invalid(versionField, "certification version \(match.versionId) is named twice in the file")
                }
                versions.append(PlannedVersion(name: versionName, versionId: versionId, status: version.status, cuOnboarding: version.cuOnboarding, existing: match))
            }
            planned.append(PlannedApplication(tenant: entry.tenant, name: name, applicationId: applicationId, publicKeyPEM: publicKeyPEM,
                                              redirectURLs: redirectURLs, existing: existing, versions: versions))
        }
        return planned
    }

    /// Creates or updates the planned applications and their versions; what the file leaves out is left as it is.
    func applyApplications(_ planned: [PlannedApplication], ids: [String: Int64], report: inout Report) async throws {
        guard let onboarding, !planned.isEmpty else { return }
        for plan in planned {
            let application: OnboardingApplication
            if var existing = plan.existing {
                let before = existing
                existing.name = plan.name
                if let key = plan.publicKeyPEM { existing.publicKeyPEM = key }
                if let urls = plan.redirectURLs { existing.redirectURLs = urls }
                if existing != before {
                    existing.updatedAt = clock.now()
                    application = try await onboarding.updateApplication(existing, audit: audit)
                    report.updated += 1
                } else {
                    application = existing
                    report.unchanged += 1
                }
            } else {
                var tenantId = ids[plan.tenant]
                if tenantId == nil { tenantId = try await store.tenant(key: plan.tenant)?.id }
                guard let tenantId else { throw GatehouseError.invalid("applications", "tenant \(plan.tenant) of \(plan.name) is unknown") }
                let now = clock.now()
                application = try await onboarding.createApplication(
                    OnboardingApplication(id: 0, applicationId: plan.applicationId ?? Onboarding.newUUID(), tenantId: tenantId, name: plan.name,
                                          publicKeyPEM: plan.publicKeyPEM, redirectURLs: plan.redirectURLs ?? [], createdAt: now, updatedAt: now),
                    audit: audit)
                report.created += 1
            }
            for version in plan.versions {
                if var existing = version.existing {
                    let before = existing
                    existing.name = version.name
                    if let status = version.status { existing.status = status }
                    if let cuOnboarding = version.cuOnboarding { existing.cuOnboarding = cuOnboarding }
                    if existing != before {
                        _ = try await onboarding.updateCertificationVersion(existing, at: clock.now(), audit: audit)
                        report.updated += 1
                    } else {
                        report.unchanged += 1
                    }
                } else {
                    _ = try await onboarding.createCertificationVersion(
                        CertificationVersion(id: 0, versionId: version.versionId ?? Onboarding.newUUID(), applicationId: application.id, name: version.name,
                                             status: version.status ?? .draft, cuOnboarding: version.cuOnboarding ?? false, createdAt: clock.now()),
                        audit: audit)
                    report.created += 1
                }
            }
        }
    }

    /// Every application with its versions, as entries (public keys only: Gatehouse never keeps a private key).
    func exportApplications(keys: [Int64: String]) async throws -> [TreeDocument.ApplicationEntry] {
        guard let onboarding, let platform = try await store.tenant(id: Management.platformTenantId) else { return [] }
        var entries: [TreeDocument.ApplicationEntry] = []
        for application in try await onboarding.applications(under: platform.path) {
            let versions = try await onboarding.certificationVersions(applicationId: application.id).map {
                TreeDocument.VersionEntry(versionId: $0.versionId, name: $0.name, status: $0.status, cuOnboarding: $0.cuOnboarding)
            }
            entries.append(.init(tenant: keys[application.tenantId] ?? "", name: application.name, applicationId: application.applicationId,
                                 publicKey: application.publicKeyPEM, redirectUrls: application.redirectURLs.isEmpty ? nil : application.redirectURLs,
                                 versions: versions.isEmpty ? nil : versions))
        }
        return entries
    }
}
