import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import NIOHTTP1
import NIOSSL
import X509

extension DeviceChannelHub {
    /// The channel of agent-activated cameras and serially provisioned devices (main listener).
    static let devicePath = "/api/v1.0/device/channel"
    /// The channel of onboarded endpoints (the REST gateway's mutual-TLS listener).
    static let gatewayPath = "/api/v1.0/gateway/rest/channel"

    static let agentVersionHeader = HTTPField.Name("X-Gatehouse-Agent-Version")!
    static let cikHeader = HTTPField.Name("X-Exosite-CIK")!

    /// HTTP/1.1 with the device channel's WebSocket upgrade, for the main listener. A request
    /// that may not upgrade goes on to the router, whose route for the same path answers 401.
    func mainServer() -> HTTPServerBuilder {
        .guardedHTTP1WebSocketUpgrade(configuration: .init(ws: webSocketConfiguration)) { head, channel, _ in
            guard head.method == .get, Self.path(of: head) == Self.devicePath else { return .dontUpgrade }
            let device: ChannelDevice
            do {
                device = try await self.authenticate(head)
            } catch {
                await Self.refuse(channel, error)
                return .dontUpgrade
            }
            let version = head.headerFields[Self.agentVersionHeader].map { String($0.prefix(64)) }
            return .upgrade([:]) { inbound, outbound, _ in await self.serve(device, agentVersion: version, inbound: inbound, outbound: outbound) }
        }
    }

    /// HTTP/1.1 with the endpoints' channel upgrade, for the REST gateway listener (inside its TLS).
    func gatewayServer() -> HTTPServerBuilder {
        .guardedHTTP1WebSocketUpgrade(configuration: .init(ws: webSocketConfiguration)) { head, channel, _ in
            guard head.method == .get, Self.path(of: head) == Self.gatewayPath else { return .dontUpgrade }
            let device: ChannelDevice
            do {
                device = try await self.channel.authenticate(certificateSerial: await Self.certificateSerial(channel))
            } catch {
                await Self.refuse(channel, error)
                return .dontUpgrade
            }
            let version = head.headerFields[Self.agentVersionHeader].map { String($0.prefix(64)) }
            return .upgrade([:]) { inbound, outbound, _ in await self.serve(device, agentVersion: version, inbound: inbound, outbound: outbound) }
        }
    }

    /// Answers a refused upgrade with its status and Gatehouse's JSON error, then closes the
    /// connection (the WebSocket library would otherwise answer a bare 400).
    static func refuse(_ channel: any NIOCore.Channel, _ error: any Error) async {
        let refusal = (error as? GatehouseError) ?? GatehouseError(.unavailable, "the device channel cannot check credentials now; try again")
        let status = refusal.code.httpStatus
        let body = (try? JSON.encoder.encode(APIErrorBody(error: .init(code: refusal.code.rawValue, message: refusal.message, field: nil, requestId: ""))))
            ?? Data()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: "Agent realm=\"gatehouse\", X-Exosite-CIK") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        try? await channel.close()
    }

    /// The device behind an upgrade request's `Authorization: Agent <id>:<key>` or `X-Exosite-CIK`.
    func authenticate(_ head: HTTPRequest) async throws -> ChannelDevice {
        if let authorization = head.headerFields[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "agent" else {
                throw GatehouseError(.unauthenticated, "the Authorization header must be 'Agent <agent_id>:<agent_key>'")
            }
            return try await channel.authenticate(agentHeader: String(parts[1]).trimmingCharacters(in: .whitespaces))
        }
        if let cik = head.headerFields[Self.cikHeader] {
            return try await channel.authenticate(cik: cik.trimmingCharacters(in: .whitespaces))
        }
        throw GatehouseError(.unauthenticated, "an Authorization: Agent <agent_id>:<agent_key> or X-Exosite-CIK header is required")
    }

    /// The serial (lower-case hex) of the client certificate of a TLS connection.
    static func certificateSerial(_ channel: any NIOCore.Channel) async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(),
              let parsed = try? Certificate(derEncoded: try certificate.toDERBytes()) else { return nil }
        return Secrets.hex(parsed.serialNumber.bytes)
    }

    static func path(of head: HTTPRequest) -> Substring {
        (head.path ?? "").split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}
