import Foundation
import GatehouseCore
import NIOConcurrencyHelpers

/// A clock tests move by hand.
public final class TestClock: GatehouseClock {
    private let value: NIOLockedValueBox<Int64>

    public init(_ start: Int64 = Int64(Date().timeIntervalSince1970)) {
        value = NIOLockedValueBox(start)
    }

    public func now() -> Int64 { value.withLockedValue { $0 } }

    /// Moves the clock forward by `seconds`.
    public func advance(_ seconds: Int64) { value.withLockedValue { $0 += seconds } }
}
