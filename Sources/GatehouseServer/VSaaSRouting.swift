import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Shared pieces of the operator API of seed 000 (`/vsaas/api/v2/`).
extension GatehouseApp {
    /// The operator behind `x-vsaas-session` (or, when `apiKeyAllowed`, `x-vsaas-api-key`).
    func operatorCaller(_ request: Request, apiKeyAllowed: Bool = true) async throws -> OperatorCaller {
        if let session = request.headers[VSaaS.session], !session.isEmpty {
            return try await activation.caller(session: session.trimmingCharacters(in: .whitespaces))
        }
        if let key = request.headers[VSaaS.apiKey], !key.isEmpty {
            guard apiKeyAllowed else { throw GatehouseError(.forbidden, "this call accepts only an x-vsaas-session key") }
            return try await activation.caller(apiKey: key.trimmingCharacters(in: .whitespaces))
        }
        throw GatehouseError(.unauthenticated, apiKeyAllowed ? "an x-vsaas-session or x-vsaas-api-key header is required"
                                                             : "an x-vsaas-session header is required")
    }
}

/// Header names and presentation of the operator API.
enum VSaaS {
    static let session = HTTPField.Name("x-vsaas-session")!
    static let apiKey = HTTPField.Name("x-vsaas-api-key")!

    static func organization(_ organization: Organization) -> [String: Any] {
        ["id": organization.tenant.id, "title": organization.tenant.name, "note": organization.note,
         "owner_id": organization.ownerId ?? NSNull(), "camera_limit": organization.cameraLimit ?? NSNull(),
         "user_limit": organization.userLimit ?? NSNull(), "enabled": organization.tenant.enabled]
    }

    static func preset(_ preset: Preset) -> [String: Any] {
        ["id": preset.id, "organization_id": preset.organizationId, "title": preset.title, "settings": preset.settings]
    }

    static func token(_ token: String, _ record: ActivationTokenRecord, withCamera: Bool) -> [String: Any] {
        var body: [String: Any] = ["token": token, "valid_till": record.validTill]
        if withCamera { body["camera_name"] = record.cameraName ?? NSNull() }
        return body
    }

    static func camera(_ camera: Camera) -> [String: Any] {
        ["name": camera.name, "title": camera.title, "organization_id": camera.organizationId, "preset_id": camera.presetId ?? NSNull(),
         "agent_id": camera.agentId ?? NSNull(), "agent_serial": camera.agentSerial ?? NSNull(), "agent_version": camera.agentVersion ?? NSNull(),
         "agent_last_seen": camera.lastSeenAt ?? NSNull(), "created_at": camera.createdAt]
    }

    static func agent(_ agent: AgentRecord) -> [String: Any] {
        ["id": agent.id, "serial": agent.serial, "version": agent.version ?? NSNull(), "mac": agent.mac ?? NSNull(), "status": agent.status.rawValue,
         "last_seen": agent.lastSeenAt ?? NSNull(), "created_at": agent.createdAt]
    }

    static func json(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONText.bytes(value))))
    }

    /// An id that clients send as an integer or a numeric string (`"organization_id": "1"`).
    static func id(_ body: TieredBody, _ key: String) throws -> Int64 {
        guard let value = try body.int(key) else { throw GatehouseError.invalid(key, "\(key) is required") }
        guard value > 0 else { throw GatehouseError.invalid(key, "\(key) must be a positive integer") }
        return value
    }

    /// An optional nullable integer field: absent = nil, null = .some(nil).
    static func nullableInt(_ body: TieredBody, _ key: String) throws -> Int64?? {
        guard body.object[key] != nil else { return nil }
        if body.object[key] is NSNull { return .some(nil) }
        return .some(try body.int(key))
    }
}
