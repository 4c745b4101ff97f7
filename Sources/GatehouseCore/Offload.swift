import Dispatch

/// Runs CPU-heavy work (password hashing) off the cooperative thread pool, so that a burst
/// of sign-ins cannot starve every other request of threads.
public enum Offload {
    /// Runs `work` on a global dispatch queue and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }
}
