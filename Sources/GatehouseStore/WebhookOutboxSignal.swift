import NIOConcurrencyHelpers

/// Tells this node's webhook sender that deliveries were committed to the outbox, so that it
/// sends them at once instead of at its next poll — and only then: a write that queued no
/// delivery wakes nobody (a claim of the outbox is itself a write transaction).
///
/// Deliveries committed by another node are found by the sender's regular poll.
public final class WebhookOutboxSignal: Sendable {
    private let listener = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

    init() {}

    /// Calls `body` after every commit that queued at least one delivery (replaces an earlier listener).
    public func onCommit(_ body: @escaping @Sendable () -> Void) {
        listener.withLockedValue { $0 = body }
    }

    /// Reports a committed transaction that queued `count` deliveries.
    func committed(_ count: Int) {
        guard count > 0 else { return }
        listener.withLockedValue { $0 }?()
    }
}
