import Foundation
import GatehouseCore
import GatehouseStore
import HummingbirdWebSocket
import Logging
import NIOWebSocket

extension DeviceChannelHub {
    /// Largest frame a device may send.
    static let maxInboundMessage = 64 * 1024

    /// Serves one upgraded WebSocket of an authenticated device until either side closes it.
    func serve(_ device: ChannelDevice, agentVersion: String?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        guard let connection = open(device) else {
            try? await outbound.close(WebSocketErrorCode(codeNumber: CloseCode.goingAway), reason: "server going away")
            return
        }
        defer { closed(connection) }
        do {
            let record = ChannelConnection(device: device, connectionId: connection.connectionId, nodeId: nodeId, agentVersion: agentVersion, connectedAt: clock.now())
            let previous = try await store.connect(record)
            connection.isRecorded = true
            if let previous, previous.nodeId != nodeId {
                await publish([.replaced(deviceId: device.deviceId, connectionId: previous.connectionId)])
            }
        } catch {
            logger.info("device channel: could not record the connection; closing", metadata: ["device": "\(device.deviceId)", "error": "\(error)"])
            let revoked = (error as? GatehouseError)?.code == .unauthenticated
            try? await outbound.close(WebSocketErrorCode(codeNumber: revoked ? CloseCode.credentialRevoked : 1011), reason: revoked ? "the device is gone" : "try again")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.write(connection, outbound) }
            group.addTask { await self.read(connection, inbound) }
            await group.next()
            group.cancelAll()
        }
        try? await store.disconnect(deviceId: device.deviceId, connectionId: connection.connectionId)
    }

    /// The writer: `welcome`, what the device missed, then each piece of queued work in order.
    private func write(_ connection: DeviceConnection, _ outbound: WebSocketOutboundWriter) async {
        let deviceId = connection.device.deviceId
        var lastSent: Int64 = 0
        do {
            try await outbound.write(.text(JSONText.string([
                "type": "welcome", "device_id": deviceId, "node": nodeId, "ping_interval": pingInterval,
            ] as [String: Any])))
            let settings = try await store.settings(deviceId: deviceId)
            if settings.desiredVersion > (settings.reportedVersion ?? 0) {
                try await outbound.write(.text(Self.settingsFrame(settings)))
                lastSent = settings.desiredVersion
            }
            for command in try await store.takeCommands(deviceId: deviceId, at: clock.now(), includeSent: true) {
                try await outbound.write(.text(Self.commandFrame(command)))
            }
            for await work in connection.work {
                switch work {
                case .frame(let text):
                    try await outbound.write(.text(text))
                case .settings, .knownSettings:
                    let settings: DeviceSettings
                    if case .knownSettings(let known) = work { settings = known } else { settings = try await store.settings(deviceId: deviceId) }
                    if settings.desiredVersion > lastSent {
                        try await outbound.write(.text(Self.settingsFrame(settings)))
                        lastSent = settings.desiredVersion
                    }
                case .commands:
                    for command in try await store.takeCommands(deviceId: deviceId, at: clock.now(), includeSent: false) {
                        try await outbound.write(.text(Self.commandFrame(command)))
                    }
                case .close(let code, let reason):
                    try? await outbound.close(WebSocketErrorCode(codeNumber: code), reason: reason)
                    return
                }
            }
        } catch {
            if !Task.isCancelled {
                logger.debug("device channel: writer stopped", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            }
        }
    }

    /// The reader: `reported` and `result` frames; anything else gets an `error` frame.
    private func read(_ connection: DeviceConnection, _ inbound: WebSocketInboundStream) async {
        let deviceId = connection.device.deviceId
        do {
            for try await message in inbound.messages(maxSize: Self.maxInboundMessage) {
                seen(deviceId)
                guard case .text(let text) = message, let data = text.data(using: .utf8),
                      let frame = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let type = frame["type"] as? String
                else {
                    connection.enqueue(.frame(Self.errorFrame("invalid_frame", "a frame is a JSON object with a type")))
                    continue
                }
                switch type {
                case "reported": try await reported(frame, connection)
                case "result": try await result(frame, connection)
                default: connection.enqueue(.frame(Self.errorFrame("invalid_frame", "unknown frame type \(type)")))
                }
            }
        } catch {
            if !Task.isCancelled {
                logger.debug("device channel: reader stopped", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            }
        }
    }

    private func reported(_ frame: [String: Any], _ connection: DeviceConnection) async throws {
        guard let version = Self.integer(frame["version"]), version >= 0, let document = frame["reported"] as? [String: Any] else {
            connection.enqueue(.frame(Self.errorFrame("invalid_frame", "reported needs version (an integer) and reported (an object)")))
            return
        }
        let text = JSONText.string(document)
        guard text.utf8.count <= SettingsSchema.maxDocumentBytes else {
            connection.enqueue(.frame(Self.errorFrame("invalid_frame", "the reported document is larger than 16 KiB")))
            return
        }
        let error = (frame["error"] as? String).map { String($0.prefix(1024)) }
        try await store.recordReportedSettings(deviceId: connection.device.deviceId, version: version, reported: text, error: error, at: clock.now())
    }

    private func result(_ frame: [String: Any], _ connection: DeviceConnection) async throws {
        guard let id = frame["id"] as? String, id.utf8.count <= 64, let status = frame["status"] as? String, status == "ok" || status == "error" else {
            connection.enqueue(.frame(Self.errorFrame("invalid_frame", "result needs id and status (ok or error)")))
            return
        }
        var result: String?
        if let value = frame["result"], !(value is NSNull) {
            result = JSONText.string(value)
            if result!.utf8.count > 16 * 1024 {
                connection.enqueue(.frame(Self.errorFrame("invalid_frame", "the result is larger than 16 KiB")))
                return
            }
        }
        let error = (frame["error"] as? String).map { String($0.prefix(1024)) }
        if try await store.recordCommandResult(deviceId: connection.device.deviceId, commandId: id, succeeded: status == "ok", result: result,
                                               error: error, at: clock.now()) {
            await publish([.commandDone(commandId: id)])
        }
    }

    static func integer(_ value: Any?) -> Int64? {
        guard let value, type(of: value) is NSNumber.Type, let number = value as? NSNumber, !JSONText.isBool(number) else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 9e15 else { return nil }
        return Int64(double)
    }

    static func settingsFrame(_ settings: DeviceSettings) -> String {
        "{\"type\":\"settings\",\"version\":\(settings.desiredVersion),\"desired\":\(settings.desired)}"
    }

    static func commandFrame(_ command: DeviceCommand) -> String {
        "{\"type\":\"command\",\"id\":\(JSONText.string(command.id)),\"name\":\(JSONText.string(command.name)),\"params\":\(command.params),\"expires_at\":\(command.expiresAt)}"
    }

    static func errorFrame(_ code: String, _ message: String) -> String {
        JSONText.string(["type": "error", "code": code, "message": message])
    }
}
