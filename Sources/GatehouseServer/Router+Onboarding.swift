import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// Seed 004's onboarding calls, with the exact paths, headers and answers of PROTOCOLS.md §5,
    /// and the authority's certificate and revocation list.
    func addOnboardingRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/api/v1.0/registration/onboard/verify") { request, context in
            let accountId = try await onboarding.verify(try await Self.onboardingCall(request, context))
            return OnboardingJSON.response(["accountId": accountId], status: .ok)
        }
        // Onboarding again revokes the endpoint's previous certificate: the broker learns of it.
        router.post("/api/v1.0/registration/onboard/request") { request, context in
            let result = try await onboarding.onboard(try await Self.onboardingCall(request, context), signed: true)
            brokerFiles?.refresh()
            return OnboardingJSON.response(OnboardingJSON.result(result), status: .created)
        }
        router.post("/api/v1.0/registration/onboard") { request, context in
            let result = try await onboarding.onboard(try await Self.onboardingCall(request, context), signed: false)
            brokerFiles?.refresh()
            return OnboardingJSON.response(OnboardingJSON.result(result), status: .created)
        }
        for path in ["/api/v1.0/registration/onboard/revoke", "/registration/onboard/revoke"] {
            router.delete(RouterPath(path)) { request, context in
                try await onboarding.revoke(try await Self.onboardingCall(request, context))
                brokerFiles?.refresh()
                return Response(status: .noContent)
            }
        }

        // The authority that issues endpoint certificates, and its current revocation list.
        router.get("/pki/ca.pem") { _, _ in
            let pem = try await authority.authority().certificatePEM + "\n"
            return Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
        router.get("/pki/crl") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/pkix-crl", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(bytes: try await onboarding.revocationList())))
        }
        router.get("/pki/crl.pem") { _, _ in
            let pem = CertificateAuthority.revocationListPEM(der: try await onboarding.revocationList())
            return Response(status: .ok, headers: [.contentType: "application/x-pem-file", .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
    }

    /// An onboarding call: the registration code (bearer), the signing headers and the exact
    /// body bytes (JSON, at most 64 KiB).
    static func onboardingCall(_ request: Request, _ context: GatehouseRequestContext) async throws -> OnboardingCall {
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        if body.readableBytes > 0, RequestMediaType.of(request.headers) != "application/json" {
            throw GatehouseError(.unsupportedMediaType, "the body must be application/json")
        }
        // No bearer, or not a bearer: the code is missing (0401).
        return OnboardingCall(path: request.uri.path, registrationCode: try? Self.bearerToken(request),
                              applicationId: request.headers[HTTPField.Name("X-Agrirouter-ApplicationId")!],
                              signature: request.headers[HTTPField.Name("X-Agrirouter-Signature")!],
                              body: Array(buffer: body), sourceAddress: context.clientAddress)
    }
}

/// Answers of the onboarding surface.
enum OnboardingJSON {
    static func response(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: JSONText.bytes(object))))
    }

    /// The onboarding result of PROTOCOLS.md §5 (`port` as a string, as the seed's example has it).
    static func result(_ result: OnboardingResult) -> [String: Any] {
        let connection = result.connection
        var criteria: [String: Any] = ["gatewayId": connection.gateway.rawValue, "measures": connection.measures, "commands": connection.commands]
        if let host = connection.host { criteria["host"] = host }
        if let port = connection.port { criteria["port"] = String(port) }
        if let clientId = connection.clientId { criteria["clientId"] = clientId }
        let ids = result.endpoint.alternateIds
        return [
            "authentication": ["certificate": result.certificate, "secret": result.secret, "type": result.format.rawValue],
            "capabilityAlternateId": ids.capability, "deviceAlternateId": ids.device, "sensorAlternateId": ids.sensor,
            "connectionCriteria": criteria,
        ]
    }
}
