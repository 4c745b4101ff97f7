import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket

/// How a device's channel connects (docs/device-channel.md).
public struct DeviceChannelConfiguration: Sendable {
    /// The path of the channel under the server's URL.
    public static let path = "/api/v1.0/device/channel"
    /// The server's URL (`http://` or `https://`); the channel is `ws://` or `wss://` on it.
    public var serverURL: String
    /// Sent as `X-Gatehouse-Agent-Version`.
    public var version: String
    /// The waits between connection attempts: 1 s doubling to 60 s, full jitter.
    public var backoff = Backoff(baseMilliseconds: 1000, capMilliseconds: 60_000)
    /// How often the agent pings the server itself (a connection whose pong does not come back
    /// within this time is dropped and made again).
    public var pingInterval: Duration = .seconds(30)
    /// How often the agent looks for credentials while it has none (or only refused ones).
    public var credentialPoll: Duration = .seconds(1)
    /// The largest frame taken from the server.
    public var maxFrameSize = 1 << 20

    public init(serverURL: String, version: String) {
        self.serverURL = serverURL
        self.version = version
    }

    /// The channel's WebSocket URL.
    public var channelURL: String {
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasPrefix("https://") {
            base = "wss://" + base.dropFirst("https://".count)
        } else if base.hasPrefix("http://") {
            base = "ws://" + base.dropFirst("http://".count)
        }
        return base + Self.path
    }
}

/// Told what a channel does (for `gatehouse agent simulate`'s counts and for tests). Called
/// from many tasks at once: implementations lock.
public protocol ChannelObserver: Sendable {
    /// The server's `welcome` arrived.
    func channelConnected()
    /// A connection that had been welcomed ended.
    func channelDisconnected()
    /// The server refused the credential (close code 4401).
    func channelRefused()
    /// A `reported` frame went out for `version`.
    func settingsReported(version: Int64, applied: Bool)
    /// A command's `result` went out.
    func commandAnswered(ok: Bool)
}

/// One device's end of the channel: keeps a WebSocket open to the server with the device's
/// credential, reconnecting with ``Backoff`` (exponential, full jitter); answers pings (the
/// WebSocket layer does) and pings the server; applies `settings` through a
/// ``SettingsHandler`` and answers `command`s through a ``CommandHandler``. On close code
/// 4401 it stops using that credential and calls `onRefused` (an agent then checks in, and
/// re-activates if it was deactivated); it connects again once the credential changes.
public actor DeviceChannel {
    /// How a connection ended.
    public enum Ending: Sendable, Equatable {
        /// The server closed it (or it dropped) with this code (nil: no close frame).
        case closed(code: UInt16?, welcomed: Bool)
        /// The server did not upgrade (a refused credential answers 401 before the upgrade).
        case notUpgraded
        /// The connection could not be made or broke.
        case failed(String)
    }

    public nonisolated let configuration: DeviceChannelConfiguration
    let credentials: @Sendable () async -> ChannelCredential?
    let onRefused: @Sendable (ChannelCredential, Ending) async -> Bool
    let settingsHandler: any SettingsHandler
    let commandHandler: any CommandHandler
    let applied: AppliedSettingsStore
    let eventLoopGroup: any EventLoopGroup
    let observer: (any ChannelObserver)?
    let logger: Logger

    var outbound: WebSocketOutboundWriter?
    var inFlight: Set<String> = []
    /// Results finished while no connection was open, sent after the next welcome (unless expired).
    var unsent: [String: (expiresAt: Int64, frame: String)] = [:]
    var pendingSettings: AsyncStream<(Int64, Data)>.Continuation?
    /// Whether a connection is open and welcomed.
    public private(set) var isConnected = false
    /// Connections welcomed so far.
    public private(set) var connections = 0

    /// A channel that asks `credentials` for the credential to use before each connection
    /// (nil: none yet), and calls `onRefused` when the server refuses it (4401). `onRefused`
    /// answers true when another check found the credential good after all (the agent's
    /// check-in answered 200): then the channel tries it again, but only after the longest
    /// backoff wait; false leaves that credential unused until it changes.
    public init(configuration: DeviceChannelConfiguration, credentials: @escaping @Sendable () async -> ChannelCredential?,
                onRefused: @escaping @Sendable (ChannelCredential, Ending) async -> Bool = { _, _ in false },
                settings: any SettingsHandler, commands: any CommandHandler, applied: AppliedSettingsStore,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, observer: (any ChannelObserver)? = nil, logger: Logger) {
        self.configuration = configuration
        self.credentials = credentials
        self.onRefused = onRefused
        settingsHandler = settings
        commandHandler = commands
        self.applied = applied
        self.eventLoopGroup = eventLoopGroup
        self.observer = observer
        self.logger = logger
    }

    /// Connects and keeps connecting until the task is cancelled.
    public func run() async {
        let (stream, continuation) = AsyncStream.makeStream(of: (Int64, Data).self, bufferingPolicy: .bufferingNewest(1))
        pendingSettings = continuation
        let settingsTask = Task { for await (version, desired) in stream { await self.applySettings(version: version, desired: desired) } }
        defer {
            continuation.finish()
            settingsTask.cancel()
        }
        var attempt = 0
        var refused: ChannelCredential?
        while !Task.isCancelled {
            guard let credential = await credentials(), credential != refused else {
                do { try await Task.sleep(for: configuration.credentialPoll) } catch { return }
                continue
            }
            refused = nil
            let ending = await connect(credential)
            if Task.isCancelled { return }
            var metadata: Logger.Metadata = ["credential": "\(credential.label)", "attempt": "\(attempt + 1)"]
            switch ending {
            case let .closed(code, welcomed):
                metadata["close_code"] = "\(code.map(String.init) ?? "-")"
                if code == 4401 {
                    observer?.channelRefused()
                    attempt = 0
                    if await onRefused(credential, ending) {
                        let wait = configuration.backoff.delay(attempt: 62)
                        logger.warning("the server refused the credential on the channel but the check-in took it; trying again after the longest wait",
                                       metadata: metadata.merging(["retry_in_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)"]) { $1 })
                        do { try await Task.sleep(for: wait) } catch { return }
                    } else {
                        logger.warning("the server refused the credential on the channel; not reconnecting with it", metadata: metadata)
                        refused = credential
                    }
                    continue
                }
                if welcomed, code != 4409 { attempt = 0 }
                logger.info("channel closed; reconnecting", metadata: metadata)
            case .notUpgraded:
                logger.warning("the server did not open the channel (refused credential or no channel route); retrying", metadata: metadata)
            case let .failed(reason):
                logger.warning("channel connection failed; retrying", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            }
            let wait = configuration.backoff.delay(attempt: attempt)
            attempt += 1
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    /// One connection, from the upgrade to its close.
    func connect(_ credential: ChannelCredential) async -> Ending {
        var headers = HTTPFields()
        for header in credential.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        if let name = HTTPField.Name("X-Gatehouse-Agent-Version") { headers.append(HTTPField(name: name, value: configuration.version)) }
        let clientConfiguration = WebSocketClientConfiguration(maxFrameSize: configuration.maxFrameSize, additionalHeaders: headers,
                                                               closeTimeout: .seconds(5), autoPing: .enabled(timePeriod: configuration.pingInterval))
        var socketLogger = logger
        socketLogger.logLevel = max(logger.logLevel, .warning)
        let welcomed = WelcomeFlag()
        do {
            let close = try await WebSocketClient.connect(url: configuration.channelURL, configuration: clientConfiguration, eventLoopGroup: eventLoopGroup,
                                                          logger: socketLogger) { inbound, outbound, _ in
                try await self.session(inbound: inbound, outbound: outbound, welcomed: welcomed)
            }
            ended(welcomed: welcomed.value)
            return .closed(code: close.map { Self.code($0.closeCode) }, welcomed: welcomed.value)
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            ended(welcomed: welcomed.value)
            return .notUpgraded
        } catch {
            ended(welcomed: welcomed.value)
            if welcomed.value { return .closed(code: nil, welcomed: true) }
            return .failed("\(error)")
        }
    }

    /// Reads frames until the connection ends; settings and commands are handled beside it,
    /// so that reading (and answering pings) never waits for a handler.
    nonisolated func session(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, welcomed: WelcomeFlag) async throws {
        for try await message in inbound.messages(maxSize: configuration.maxFrameSize) {
            guard case let .text(text) = message else { continue }
            switch ChannelFrame.parse(text) {
            case let .welcome(deviceId, node, pingInterval):
                welcomed.value = true
                await opened(outbound, metadata: ["device_id": "\(deviceId.map(String.init) ?? "-")", "node": "\(node ?? "-")",
                                                  "ping_interval": "\(pingInterval.map(String.init) ?? "-")"])
            case let .settings(version, desired):
                await enqueue(version: version, desired: desired)
            case let .command(command):
                await received(command)
            case let .error(code, message):
                logger.warning("the server reported an error on the channel", metadata: ["code": "\(code)", "message": "\(message)"])
            case let .unknown(reason):
                logger.warning("ignored a frame from the server", metadata: ["reason": "\(reason)"])
            }
        }
    }

    func enqueue(version: Int64, desired: Data) {
        pendingSettings?.yield((version, desired))
    }

    func opened(_ writer: WebSocketOutboundWriter, metadata: Logger.Metadata) async {
        outbound = writer
        isConnected = true
        connections += 1
        observer?.channelConnected()
        logger.info("channel open", metadata: metadata)
        let now = Int64(Date().timeIntervalSince1970)
        let waiting = unsent
        unsent = [:]
        for (id, entry) in waiting where entry.expiresAt >= now {
            await send(entry.frame, orKeep: (id, entry.expiresAt))
        }
    }

    func ended(welcomed: Bool) {
        outbound = nil
        if isConnected {
            isConnected = false
            observer?.channelDisconnected()
        }
    }

    /// Sends `frame` on the open connection; when there is none (or the write fails) and
    /// `keep` is given, keeps it for the next connection.
    @discardableResult
    func send(_ frame: String, orKeep keep: (id: String, expiresAt: Int64)? = nil) async -> Bool {
        if let outbound {
            do {
                try await outbound.write(.text(frame))
                return true
            } catch {
                logger.debug("could not send on the channel", metadata: ["error": "\(error)"])
            }
        }
        if let keep { unsent[keep.id] = (keep.expiresAt, frame) }
        return false
    }

    /// Applies a desired version (once: a version already handled is reported again as it
    /// was), stores what runs now, then reports it.
    func applySettings(version: Int64, desired: Data) async {
        let metadata: Logger.Metadata = ["settings_version": "\(version)"]
        var current = await applied.current
        if current?.version != version {
            let outcome = await settingsHandler.apply(version: version, desired: desired)
            if Task.isCancelled { return }
            let previous = current?.reported ?? "{}"
            switch outcome {
            case let .applied(reported):
                current = AppliedSettings(version: version, reported: String(decoding: reported, as: UTF8.self), error: nil)
                logger.notice("settings applied", metadata: metadata)
            case let .failed(error, reported):
                current = AppliedSettings(version: version, reported: reported.map { String(decoding: $0, as: UTF8.self) } ?? previous, error: error)
                logger.error("settings not applied", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            do {
                try await applied.store(current!)
            } catch {
                logger.error("could not store the applied settings; reporting them all the same", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
        guard let current else { return }
        let frame = ChannelFrame.reported(version: version, reported: Data(current.reported.utf8), error: current.error)
        if await send(frame) { observer?.settingsReported(version: version, applied: current.error == nil) }
    }

    /// A command arrived: run it beside the reader unless it is already running, expired, or
    /// answered and waiting for a connection.
    func received(_ command: ChannelCommand) async {
        let metadata: Logger.Metadata = ["command_id": "\(command.id)", "command": "\(command.name)"]
        let now = Date().timeIntervalSince1970
        let left = Double(command.expiresAt) - now
        guard left > 0 else {
            logger.warning("command arrived expired; not running it", metadata: metadata)
            return
        }
        if let waiting = unsent.removeValue(forKey: command.id) {
            await send(waiting.frame, orKeep: (command.id, waiting.expiresAt))
            return
        }
        guard inFlight.insert(command.id).inserted else { return }
        logger.info("running command", metadata: metadata)
        Task {
            let outcome = await commandHandler.handle(command, timeout: .milliseconds(Int64(left * 1000)))
            await self.finished(command, outcome, metadata: metadata)
        }
    }

    func finished(_ command: ChannelCommand, _ outcome: CommandOutcome, metadata: Logger.Metadata) async {
        inFlight.remove(command.id)
        guard Double(command.expiresAt) > Date().timeIntervalSince1970 else {
            logger.warning("command expired before it finished; no answer sent", metadata: metadata)
            return
        }
        if case let .failed(message) = outcome {
            logger.warning("command failed", metadata: metadata.merging(["error": "\(message)"]) { $1 })
        } else {
            logger.info("command done", metadata: metadata)
        }
        let frame = ChannelFrame.result(id: command.id, outcome: outcome)
        if await send(frame, orKeep: (command.id, command.expiresAt)) {
            if case .ok = outcome { observer?.commandAnswered(ok: true) } else { observer?.commandAnswered(ok: false) }
        }
    }

    static func code(_ code: WebSocketErrorCode) -> UInt16 {
        switch code {
        case .normalClosure: return 1000
        case .goingAway: return 1001
        case .protocolError: return 1002
        case .unacceptableData: return 1003
        case .dataInconsistentWithMessage: return 1007
        case .policyViolation: return 1008
        case .messageTooLarge: return 1009
        case .missingExtension: return 1010
        case .unexpectedServerError: return 1011
        case let .unknown(value): return value
        }
    }
}

/// Whether a connection got its `welcome` (set by the reader, read after the connection ends).
final class WelcomeFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
