/// When a failed delivery is tried again: exponentially later (2 s, 4 s, 8 s, … by
/// default, capped at one hour) with a little random jitter, until ``maxAttempts`` attempts
/// have failed; the delivery is then given up (kept with its last error, not retried).
///
/// With the defaults a delivery is retried for about 14 hours.
public struct WebhookBackoff: Sendable, Hashable {
    /// The delay after the first failed attempt, in seconds.
    public var baseSeconds: Int64
    /// The longest delay, in seconds.
    public var maxDelaySeconds: Int64
    /// Attempts after which a delivery is given up.
    public var maxAttempts: Int
    /// Up to this fraction of the delay is added at random, so that deliveries failing
    /// together do not all retry at the same moment.
    public var jitter: Double

    public init(baseSeconds: Int64 = 2, maxDelaySeconds: Int64 = 3600, maxAttempts: Int = 24, jitter: Double = 0.1) {
        self.baseSeconds = max(1, baseSeconds)
        self.maxDelaySeconds = max(self.baseSeconds, maxDelaySeconds)
        self.maxAttempts = max(1, maxAttempts)
        self.jitter = min(max(0, jitter), 1)
    }

    /// The production defaults.
    public static let standard = WebhookBackoff()

    /// Seconds to wait after failed attempt number `attempt` (1-based): `base · 2^(attempt-1)`,
    /// capped at ``maxDelaySeconds``, plus up to ``jitter`` of it.
    public func delay(afterAttempt attempt: Int) -> Int64 {
        let exponent = min(max(attempt, 1) - 1, 62)
        let (scaled, overflow) = baseSeconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        let delay = overflow ? maxDelaySeconds : min(scaled, maxDelaySeconds)
        let spread = Int64(Double(delay) * jitter)
        return spread > 0 ? delay + Int64.random(in: 0...spread) : delay
    }

    /// Whether a delivery whose attempt number `attempt` failed is given up.
    public func givesUp(afterAttempt attempt: Int) -> Bool { attempt >= maxAttempts }
}
