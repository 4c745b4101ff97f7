import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore
import NIOSSL
import X509

extension GatehouseApp {
    /// The router of the REST gateway listener: `measures`, `commands` and virtual-CU
    /// onboarding for endpoints authenticated by their client certificate; errors in the
    /// onboarding format (`{"error":{"code":"0200",…}}`).
    func makeGatewayRouter() -> Router<GatehouseRequestContext> {
        let router = Router(context: GatehouseRequestContext.self)
        let table = RouteTableBox()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ErrorMiddleware(routes: table))
        router.get("/healthz") { _, _ in try JSON.response(["status": "ok", "listener": "rest-gateway"]) }
        addRestGatewayRoutes(to: router)
        addGatewayMediaRoutes(to: router)
        addGatewayChannelRoute(to: router)
        table.set(RouteTable(router.routes.map { ($0.method, $0.path.description) }))
        return router
    }

    /// `POST …/measures/<id>`, `GET …/commands/<id>`, `POST …/cloud-onboard/<id>`.
    func addRestGatewayRoutes(to router: Router<GatehouseRequestContext>) {
        let maxBody = configuration.maxBodySize
        router.post("/api/v1.0/gateway/rest/measures/:endpointId") { request, context in
            let endpoint = try await gatewayEndpoint(context)
            let body = try await Self.gatewayBody(request, limit: maxBody)
            let receipt = try await gateway.send(body, from: endpoint)
            return OnboardingJSON.response([
                "capabilities": receipt.capabilities,
                "messages": receipt.messages.map { ["messageId": $0.messageId, "technicalMessageType": $0.messageType, "recipients": $0.recipients] as [String: Any] },
            ], status: .ok)
        }
        router.get("/api/v1.0/gateway/rest/commands/:endpointId") { request, context in
            let endpoint = try await gatewayEndpoint(context)
            var limit = 100
            if let text = request.uri.queryParameters.get("limit") {
                guard let value = Int(text), (1...500).contains(value) else { throw GatehouseError.invalid("limit", "limit must be an integer from 1 to 500") }
                limit = value
            }
            let messages = try await gateway.fetch(for: endpoint, limit: limit)
            return OnboardingJSON.response(["commands": messages.map { message -> [String: Any] in
                [
                    "messageId": message.messageId, "technicalMessageType": message.messageType, "senderId": message.senderId,
                    "timestamp": OnboardingTimestamp.format(message.createdAt),
                    "content": (try? JSONSerialization.jsonObject(with: Data(message.content.utf8), options: .fragmentsAllowed)) ?? NSNull(),
                ]
            }], status: .ok)
        }
        router.get("/api/v1.0/gateway/rest/capabilities/:endpointId") { _, context in
            let endpoint = try await gatewayEndpoint(context)
            let declared = try await gateway.capabilities(of: endpoint)
            return OnboardingJSON.response([
                "sent": endpoint.capabilitiesAt != nil,
                "capabilities": declared.map { ["technicalMessageType": $0.messageType, "direction": $0.direction.rawValue] },
            ], status: .ok)
        }
        // A telemetry platform's virtual CUs; the broker learns of their certificates.
        router.post("/api/v1.0/gateway/rest/cloud-onboard/:endpointId") { request, context in
            let platform = try await gatewayEndpoint(context)
            let body = try await Self.gatewayBody(request, limit: 64 * 1024)
            let results = try await gateway.onboardVirtual(body, platform: platform)
            brokerFiles?.refresh()
            return OnboardingJSON.response(["endpoints": results.map { OnboardingJSON.result($0) }], status: .created)
        }
    }

    /// The endpoint in the URL, authenticated by the connection's client certificate.
    func gatewayEndpoint(_ context: GatehouseRequestContext) async throws -> OnboardedEndpoint {
        let certificate = try? await context.channel.nioSSL_peerCertificate().get()
        let serial = try certificate.flatMap { try Certificate(derEncoded: try $0.toDERBytes()) }.map { Secrets.hex($0.serialNumber.bytes) }
        return try await gateway.authenticate(endpointId: context.parameters.get("endpointId") ?? "", certificateSerial: serial)
    }

    /// A JSON body of at most `limit` bytes.
    static func gatewayBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        guard RequestMediaType.of(request.headers) == "application/json" else {
            throw GatehouseError(.unsupportedMediaType, "the body must be application/json")
        }
        return Array(buffer: body)
    }
}
