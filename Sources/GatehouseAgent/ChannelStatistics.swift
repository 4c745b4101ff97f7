import Foundation
import Synchronization

/// What the channels of `gatehouse agent simulate` did, counted across all devices.
public final class ChannelStatistics: ChannelObserver, Sendable {
    /// The counts at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Channels open (welcomed) now, and the most open at once.
        public var connected = 0
        public var peakConnected = 0
        /// Welcomes in all, connections that ended, credentials refused (4401).
        public var connections = 0
        public var disconnections = 0
        public var refusals = 0
        /// `reported` frames sent, of which applied; command results sent.
        public var settingsReported = 0
        public var settingsApplied = 0
        public var commandsAnswered = 0
        /// Per desired version: reports sent, and the unix times (ms) of the first and last.
        public var versions: [Int64: VersionCount] = [:]
    }

    /// Reports of one settings version.
    public struct VersionCount: Sendable, Equatable {
        public var reported = 0
        public var firstMilliseconds: Int64 = 0
        public var lastMilliseconds: Int64 = 0
    }

    let state = Mutex(Snapshot())

    public init() {}

    /// The counts now.
    public var snapshot: Snapshot { state.withLock { $0 } }

    public func channelConnected() {
        state.withLock {
            $0.connected += 1
            $0.connections += 1
            $0.peakConnected = max($0.peakConnected, $0.connected)
        }
    }

    public func channelDisconnected() { state.withLock { $0.connected -= 1; $0.disconnections += 1 } }

    public func channelRefused() { state.withLock { $0.refusals += 1 } }

    public func settingsReported(version: Int64, applied: Bool) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        state.withLock {
            $0.settingsReported += 1
            if applied { $0.settingsApplied += 1 }
            var count = $0.versions[version] ?? VersionCount(reported: 0, firstMilliseconds: now, lastMilliseconds: now)
            count.reported += 1
            count.lastMilliseconds = now
            $0.versions[version] = count
        }
    }

    public func commandAnswered(ok: Bool) { state.withLock { $0.commandsAnswered += 1 } }

    /// One JSON line of progress: `{"progress":{"t_ms":…,"connected":…,…,"versions":{"<v>":{"reported":…,"first_ms":…,"last_ms":…}}}}`.
    public func progressLine() -> String {
        let now = snapshot
        var versions: [String: Any] = [:]
        for (version, count) in now.versions {
            versions[String(version)] = ["reported": count.reported, "first_ms": count.firstMilliseconds, "last_ms": count.lastMilliseconds]
        }
        let progress: [String: Any] = [
            "t_ms": Int64(Date().timeIntervalSince1970 * 1000), "connected": now.connected, "peak_connected": now.peakConnected,
            "connections": now.connections, "disconnections": now.disconnections, "channel_refusals": now.refusals,
            "settings_reported": now.settingsReported, "settings_applied": now.settingsApplied, "commands_answered": now.commandsAnswered,
            "versions": versions,
        ]
        return ChannelFrame.encode(["progress": progress])
    }
}
