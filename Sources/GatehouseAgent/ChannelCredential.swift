/// What a device shows on the channel's upgrade request and on its uploads
/// (docs/device-channel.md): an agent's id and key, or a serially provisioned device's CIK.
/// Never logged.
public enum ChannelCredential: Sendable, Equatable {
    case agent(id: Int64, key: String)
    case cik(String)

    /// The request headers that carry it.
    public var headers: [(name: String, value: String)] {
        switch self {
        case let .agent(id, key): return [("Authorization", "Agent \(id):\(key)")]
        case let .cik(cik): return [("X-Exosite-CIK", cik)]
        }
    }

    /// For the log: which credential, without its secret.
    public var label: String {
        switch self {
        case let .agent(id, _): return "agent \(id)"
        case .cik: return "cik"
        }
    }
}
