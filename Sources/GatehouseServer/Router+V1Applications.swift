import Foundation
import GatehouseCore
import Hummingbird

extension GatehouseApp {
    /// /v1 for signed onboarding: a developer's applications (public key or generated key pair,
    /// redirect URLs) and certification versions, an account's registration codes ("+ Connection")
    /// and its onboarded endpoints.
    func addV1ApplicationRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/v1/tenants/:id/applications") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Onboarding.ApplicationBody.self, request)
            let (application, privateKey) = try await onboarding.createApplication(caller, tenantId: try context.id(), body.input(), applicationId: body.applicationId)
            return try JSON.response(V1Onboarding.Application(application, privateKey: privateKey), status: .created)
        }
        router.get("/v1/tenants/:id/applications") { request, context in
            let applications = try await onboarding.applications(try await caller(request), tenantId: try context.id())
            return try JSON.response(V1Provisioning.Items(items: applications.map { V1Onboarding.Application($0) }))
        }
        router.get("/v1/applications/:applicationId") { request, context in
            try JSON.response(V1Onboarding.Application(try await onboarding.application(try await caller(request), applicationId: context.text("applicationId"))))
        }
        router.patch("/v1/applications/:applicationId") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Onboarding.ApplicationBody.self, request)
            let (application, privateKey) = try await onboarding.updateApplication(caller, applicationId: context.text("applicationId"), body.input())
            return try JSON.response(V1Onboarding.Application(application, privateKey: privateKey))
        }
        router.delete("/v1/applications/:applicationId") { request, context in
            try await onboarding.deleteApplication(try await caller(request), applicationId: context.text("applicationId"))
            return Response(status: .noContent)
        }
        router.post("/v1/applications/:applicationId/versions") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Onboarding.VersionBody.self, request)
            let version = try await onboarding.createCertificationVersion(caller, applicationId: context.text("applicationId"), name: body.name ?? "",
                                                                          status: body.status ?? .draft, cuOnboarding: body.cuOnboarding ?? false)
            return try JSON.response(V1Onboarding.Version(version), status: .created)
        }
        router.get("/v1/applications/:applicationId/versions") { request, context in
            let versions = try await onboarding.certificationVersions(try await caller(request), applicationId: context.text("applicationId"))
            return try JSON.response(V1Provisioning.Items(items: versions.map(V1Onboarding.Version.init)))
        }
        router.patch("/v1/applications/:applicationId/versions/:versionId") { request, context in
            let caller = try await caller(request)
            let body = try await body(V1Onboarding.VersionBody.self, request)
            let version = try await onboarding.updateCertificationVersion(caller, applicationId: context.text("applicationId"),
                                                                          versionId: context.text("versionId"), name: body.name, status: body.status,
                                                                          cuOnboarding: body.cuOnboarding)
            return try JSON.response(V1Onboarding.Version(version))
        }
        router.post("/v1/tenants/:id/registration-codes") { request, context in
            let caller = try await caller(request)
            let body = try await JSON.decodeOptional(V1Onboarding.CodeBody.self, from: request, limit: configuration.maxBodySize)
            let made = try await onboarding.createRegistrationCode(caller, accountId: try context.id(), applicationId: body?.applicationId)
            return try JSON.response(V1Onboarding.Code(code: made.code, accountId: made.accountUUID, expiresAt: made.record.expiresAt), status: .created)
        }
    }
}

extension GatehouseRequestContext {
    /// A path parameter as text (empty when absent).
    func text(_ name: String) -> String { parameters.get(name) ?? "" }
}

/// Bodies of the /v1 onboarding routes (snake_case on the wire).
enum V1Onboarding {
    struct ApplicationBody: Decodable {
        let applicationId: String?
        let name: String?
        let publicKey: String?
        let generateKeyPair: Bool?
        let redirectUrls: [String]?

        func input() -> Onboarding.ApplicationInput {
            Onboarding.ApplicationInput(name: name, publicKeyPEM: publicKey, generateKeyPair: generateKeyPair ?? false, redirectURLs: redirectUrls)
        }
    }

    struct VersionBody: Decodable {
        let name: String?
        let status: CertificationStatus?
        let cuOnboarding: Bool?
    }

    struct CodeBody: Decodable { let applicationId: String? }

    /// An application; `private_key` only in the answer that generated it.
    struct Application: Encodable {
        let applicationId: String
        let tenantId: Int64
        let name: String
        let publicKey: String?
        let redirectUrls: [String]
        let privateKey: String?
        let createdAt: Int64
        let updatedAt: Int64

        init(_ application: OnboardingApplication, privateKey: String? = nil) {
            applicationId = application.applicationId
            tenantId = application.tenantId
            name = application.name
            publicKey = application.publicKeyPEM
            redirectUrls = application.redirectURLs
            self.privateKey = privateKey
            createdAt = application.createdAt
            updatedAt = application.updatedAt
        }
    }

    struct Version: Encodable {
        let certificationVersionId: String
        let name: String
        let status: CertificationStatus
        let cuOnboarding: Bool
        let createdAt: Int64

        init(_ version: CertificationVersion) {
            certificationVersionId = version.versionId
            name = version.name
            status = version.status
            cuOnboarding = version.cuOnboarding
            createdAt = version.createdAt
        }
    }

    /// A registration code as made: the code appears here once.
    struct Code: Encodable {
        let code: String
        let accountId: String
        let expiresAt: Int64
    }
}
