import GatehouseCore
import NIOConcurrencyHelpers

/// One device's open channel on this node: the work its writer does, in order.
final class DeviceConnection: Sendable {
    /// What the connection's writer does next.
    enum Work: Sendable {
        /// Send a frame as it is.
        case frame(String)
        /// Send the desired settings if they changed since the last sent version.
        case settings
        /// The same, with the settings already read (a fleet change reads them for many devices at once).
        case knownSettings(DeviceSettings)
        /// Send the commands queued since.
        case commands
        /// Close the WebSocket with this code and reason, and stop.
        case close(code: Int, reason: String)
    }

    let device: ChannelDevice
    let connectionId: String
    let work: AsyncStream<Work>
    private let continuation: AsyncStream<Work>.Continuation
    private let recordedBox = NIOLockedValueBox(false)

    /// Whether the connection is recorded in the database (only then is it checked there).
    var isRecorded: Bool {
        get { recordedBox.withLockedValue { $0 } }
        set { recordedBox.withLockedValue { $0 = newValue } }
    }

    init(device: ChannelDevice, connectionId: String) {
        self.device = device
        self.connectionId = connectionId
        (work, continuation) = AsyncStream.makeStream(of: Work.self)
    }

    /// Queues work for the writer (dropped once the connection is done).
    func enqueue(_ item: Work) {
        continuation.yield(item)
    }

    /// Queues a close, after which nothing more is written.
    func close(code: Int, reason: String) {
        continuation.yield(.close(code: code, reason: reason))
    }

    /// Ends the work stream (the connection is gone).
    func finish() {
        continuation.finish()
    }
}
