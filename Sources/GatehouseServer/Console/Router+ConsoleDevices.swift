import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// The end user's pages (issue 10, point 2): an account's devices, "Add camera" (an
    /// activation token with its QR image and payload), "+ Connection" (a registration code),
    /// enabling a held serial, deleting a camera and revoking an endpoint. Each action calls
    /// the core service the APIs call, with the caller's own rights: anyone who can see the
    /// account (its own users, the dealers above it); the rest is `not_found`.
    func addConsoleDevicePages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page("/console/accounts/:id/devices") { request, context, session in
            let notice = request.uri.queryParameters["done"].flatMap { Self.consoleNotices[String($0)] }
            return try await devicesPage(console, session, accountId: try context.id(), notice: notice)
        }
        routes.action("/console/accounts/:id/cameras") { _, context, session, form in
            let accountId = try context.id()
            var typed = ConsoleDevicesPage.CameraForm(title: String(form.trimmed("title").prefix(200)), presetId: form["preset"],
                                                      ssid: String(form["ssid"].prefix(200)))
            var errors = ConsoleFieldErrors()
            if typed.title.isEmpty { errors.add("Enter a name for the camera.", field: "title") }
            let presetId = Int64(typed.presetId)
            if presetId == nil { errors.add("Choose a preset.", field: "preset") }
            do {
                // The Wi-Fi lines are checked before a token is drawn, so a rejected form uses none.
                _ = try ActivationQR.payload(ssid: typed.ssid, password: form["wifi_password"], operatorId: "1", token: "T")
            } catch let error as GatehouseError {
                switch error.field {
                case "ssid": errors.add("Enter the Wi-Fi network name: 1 to 32 bytes, on one line.", field: "ssid")
                case "password": errors.add("The Wi-Fi password can have at most 63 bytes, on one line.", field: "wifi_password")
                default: errors.add(error)
                }
            }
            if errors.isEmpty, let presetId {
                do {
                    let issued = try await activation.issueAccountToken(session.caller, accountId: accountId, title: typed.title, presetId: presetId)
                    let now = configuration.clock.now()
                    let expires = issued.record.validTill == 0 ? now + ConsoleQR.lifetime : min(issued.record.validTill, now + ConsoleQR.lifetime)
                    let content = ConsoleQR.Content(ssid: typed.ssid, password: form["wifi_password"], operatorId: issued.operatorId, token: issued.token,
                                                    expiresAt: expires)
                    let shown = ConsoleDevicesPage.IssuedToken(
                        title: typed.title, token: issued.token, operatorId: issued.operatorId,
                        payload: try ActivationQR.payload(ssid: typed.ssid, password: form["wifi_password"], operatorId: String(issued.operatorId), token: issued.token),
                        qrURL: try ConsoleQR.url(content, session: session, vault: vault), validTill: ConsoleTime(ifSet: issued.record.validTill))
                    return try await devicesPage(console, session, accountId: accountId, issued: shown,
                                                 notice: "Camera token issued. Show the QR code to the camera.", status: .created)
                } catch let error as GatehouseError where [.validationFailed, .notFound, .conflict, .limitExceeded].contains(error.code) && error.field != nil {
                    errors.add(error, fields: ["title": "title", "preset_id": "preset", "organization_id": "general", "tenant_id": "general"])
                }
            }
            typed.errors = errors.values
            return try await devicesPage(console, session, accountId: accountId, camera: typed, status: .unprocessableContent)
        }
        routes.action("/console/accounts/:id/cameras/:deviceId/delete") { _, context, session, _ in
            let accountId = try context.id()
            _ = try await activation.deleteAccountCamera(session.caller, accountId: accountId, deviceId: try context.id("deviceId"))
            return Console.redirect(to: ConsolePaths.devices(account: accountId) + "?done=camera-deleted")
        }
        routes.action("/console/accounts/:id/registration-codes") { _, context, session, _ in
            let accountId = try context.id()
            let made = try await onboarding.createRegistrationCode(session.caller, accountId: accountId)
            return try await devicesPage(console, session, accountId: accountId,
                                         code: ConsoleDevicesPage.IssuedCode(code: made.code, expires: ConsoleTime(made.record.expiresAt)),
                                         notice: "Registration code created. Enter it in the app before it expires.", status: .created)
        }
        routes.action("/console/accounts/:id/serials") { _, context, session, form in
            let accountId = try context.id()
            var typed = ConsoleDevicesPage.SerialForm(vendor: String(form.trimmed("vendor").prefix(200)), model: String(form.trimmed("model").prefix(200)),
                                                      sn: String(form.trimmed("sn").prefix(200)))
            var errors = ConsoleFieldErrors()
            do {
                _ = try await provisioning.enableHeld(session.caller, accountId: accountId, vendor: typed.vendor, model: typed.model, sn: typed.sn)
                return Console.redirect(to: ConsolePaths.devices(account: accountId) + "?done=serial-enabled")
            } catch let error as GatehouseError where [.validationFailed, .notFound, .conflict].contains(error.code) && error.field != nil {
                errors.add(error, fields: ["vendor": "vendor", "model": "model", "sn": "sn", "tenant_id": "general"])
            }
            typed.errors = errors.values
            return try await devicesPage(console, session, accountId: accountId, serial: typed, status: .unprocessableContent)
        }
        routes.action("/console/accounts/:id/endpoints/:endpointId/revoke") { _, context, session, _ in
            let accountId = try context.id()
            _ = try await onboarding.revokeEndpoint(session.caller, tenantId: accountId, endpointId: context.text("endpointId"))
            brokerFiles?.refresh()  // the broker's revocation list and ACL follow at once
            return Console.redirect(to: ConsolePaths.devices(account: accountId) + "?done=endpoint-revoked")
        }
        routes.page(RouterPath(ConsolePaths.qr)) { request, _, session in
            guard let sealed = request.uri.queryParameters["d"].map(String.init),
                  let content = ConsoleQR.open(sealed, session: session, vault: vault, now: configuration.clock.now()) else {
                throw GatehouseError(.notFound, "this QR code link has expired; issue a new camera token")
            }
            let code = try ActivationQR.code(ssid: content.ssid, password: content.password, operatorId: String(content.operatorId), token: content.token)
            return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store", .contentSecurityPolicy: Console.contentSecurityPolicy,
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: QRRender.png(code))))
        }
    }

    /// The one-line notices of `?done=` after an action that redirects.
    static let consoleNotices: [String: String] = [
        "camera-deleted": "Camera deleted. Its agent stops working at once.",
        "serial-enabled": "Serial enabled. The device can now activate.",
        "endpoint-revoked": "Endpoint revoked. Its certificate no longer works.",
    ]

    /// The devices page of account `accountId` as `session` sees it, with the forms as given.
    func devicesPage(_ console: Console, _ session: ConsoleSession, accountId: Int64, camera: ConsoleDevicesPage.CameraForm = .init(),
                     serial: ConsoleDevicesPage.SerialForm = .init(), issued: ConsoleDevicesPage.IssuedToken? = nil,
                     code: ConsoleDevicesPage.IssuedCode? = nil, notice: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let caller = session.caller
        let account = try await management.tenant(caller, id: accountId)
        guard account.kind == .account else { throw GatehouseError(.notFound, "devices belong to accounts; node \(accountId) is a \(account.kind.rawValue)") }
        let now = configuration.clock.now()
        let cameras = try await activation.accountCameras(caller, accountId: account.id).map {
            ConsoleDevicesPage.CameraRow(deviceId: $0.deviceId, title: $0.title, name: $0.name,
                                         status: $0.agentId == nil ? "waiting for its agent" : ($0.lastSeenAt == nil ? "activated" : "online"),
                                         serial: $0.agentSerial ?? "", lastSeen: ConsoleTime(ifSet: $0.lastSeenAt))
        }
        let serials = try await provisioning.held(caller, accountId: account.id).map {
            ConsoleDevicesPage.SerialRow(vendor: $0.vendor, model: $0.model, sn: $0.serial.sn, status: $0.serial.status(at: now).rawValue,
                                         windowEnds: ConsoleTime(ifSet: $0.serial.windowEndsAt), lastSeen: ConsoleTime(ifSet: $0.serial.activatedAt))
        }
        let endpoints = try await onboarding.endpoints(caller, tenantId: account.id, limit: 500, offset: 0).items.map {
            ConsoleDevicesPage.EndpointRow(id: $0.endpoint.id, externalId: $0.endpoint.externalId, gateway: $0.endpoint.gateway.rawValue,
                                           status: $0.endpoint.status.rawValue, active: $0.endpoint.status == .active,
                                           lastSeen: ConsoleTime(ifSet: $0.endpoint.capabilitiesAt))
        }
        let presets = try await activation.accountPresets(caller, accountId: account.id)
        let chosen = Int64(camera.presetId) ?? (presets.count == 1 ? presets[0].id : nil)
        let path = ConsolePaths.devices(account: account.id)
        let page = ConsoleDevicesPage(
            frame: ConsoleFrame(title: "Devices – \(account.name)", session: session, path: path, notice: notice),
            csrf: session.csrf, account: .init(id: account.id, name: account.name), cameras: cameras, serials: serials, endpoints: endpoints,
            presets: presets.map { .init(id: $0.id, title: $0.title, selected: $0.id == chosen) }, hasPresets: !presets.isEmpty,
            camera: camera, serial: serial, issued: issued, code: code, base: ConsolePaths.account(account.id))
        return try console.render("devices", page, status: status)
    }
}
