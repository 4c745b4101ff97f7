import Foundation

/// The source of "now" for rules with expiry; injectable so tests can move time.
public protocol GatehouseClock: Sendable {
    /// Current unix time in seconds.
    func now() -> Int64
}

/// The real wall clock.
public struct SystemClock: GatehouseClock {
    public init() {}
    public func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
