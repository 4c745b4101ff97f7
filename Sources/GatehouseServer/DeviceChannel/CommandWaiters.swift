import Foundation
import NIOConcurrencyHelpers

/// Calls waiting for a command's result, woken when any node reports that the command changed.
final class CommandWaiters: Sendable {
    private struct State {
        var waiting: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
        var done: Set<UUID> = []
    }
    private let state = NIOLockedValueBox(State())

    /// Returns after `commandId` is signalled or after `duration`, whichever comes first.
    func wait(commandId: String, upTo duration: Duration) async {
        let key = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLockedValue { state -> Bool in
                        if state.done.remove(key) != nil { return true }
                        state.waiting[commandId, default: [:]][key] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: duration) }
            await group.next()
            self.release(commandId: commandId, key: key)
            group.cancelAll()
        }
        _ = state.withLockedValue { $0.done.remove(key) }
    }

    /// Wakes every call waiting for `commandId`.
    func signal(commandId: String) {
        let continuations = state.withLockedValue { $0.waiting.removeValue(forKey: commandId) ?? [:] }
        for continuation in continuations.values { continuation.resume() }
    }

    private func release(commandId: String, key: UUID) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let found = state.waiting[commandId]?.removeValue(forKey: key) {
                if state.waiting[commandId]?.isEmpty == true { state.waiting[commandId] = nil }
                return found
            }
            // Not registered yet (or already signalled): make a late registration resume at once.
            state.done.insert(key)
            return nil
        }
        continuation?.resume()
    }
}
