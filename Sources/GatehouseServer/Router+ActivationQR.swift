import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The QR code of an activation token (seed 000): the three-line payload (Wi-Fi SSID,
    /// Wi-Fi password, `operator_id:token`) as PNG, SVG, terminal text or JSON. The Wi-Fi
    /// password travels in the body, never in the URL, and the answer is never cached.
    func addActivationQRRoutes(to router: Router<GatehouseRequestContext>) {
        router.post("/vsaas/api/v2/agent-activation-tokens/:token/qr") { request, context in
            let caller = try await operatorCaller(request, apiKeyAllowed: false)
            let body = try await TieredBody.read(request, limit: 16 * 1024)
            let token = context.parameters.get("token") ?? ""
            let record = try await activation.token(caller, token)
            guard record.usedAt == nil else { throw GatehouseError(.conflict, "token \(token) was already used") }
            let now = configuration.clock.now()
            guard record.validTill == 0 || record.validTill > now else { throw GatehouseError(.conflict, "token \(token) has expired") }
            guard let ssid = try body.string("ssid") else { throw GatehouseError.invalid("ssid", "ssid is required") }
            let password = try body.string("password") ?? ""
            let format = try body.string("format") ?? "png"
            let correction = try body.string("correction") ?? "M"
            guard let level = QRCorrection(rawValue: correction.uppercased()) else {
                throw GatehouseError.invalid("correction", "correction must be L, M, Q or H")
            }
            let operatorId = String(caller.operatorId)
            let payload = try ActivationQR.payload(ssid: ssid, password: password, operatorId: operatorId, token: token)
            let code = try ActivationQR.code(ssid: ssid, password: password, operatorId: operatorId, token: token, correction: level)
            let (type, bytes): (String, [UInt8]) = switch format {
            case "png": ("image/png", QRRender.png(code))
            case "svg": ("image/svg+xml", Array(QRRender.svg(code).utf8))
            case "text": ("text/plain; charset=utf-8", Array(QRRender.terminal(code).utf8))
            case "json": ("application/json", JSONText.bytes(["payload": payload, "version": code.version, "correction": code.correction.rawValue] as [String: Any]))
            default: throw GatehouseError.invalid("format", "format must be png, svg, text or json")
            }
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
