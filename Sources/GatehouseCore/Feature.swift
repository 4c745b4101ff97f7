/// A per-node feature switch, turned on and off by the platform operator only.
public enum Feature: String, Codable, Sendable, CaseIterable {
    /// The dealer module "Generate Access Token" (partner auth, seed 001).
    case generateAccessToken = "generate_access_token"
}

/// The state of one feature switch of a node.
public struct FeatureSwitch: Codable, Hashable, Sendable {
    public var feature: Feature
    public var enabled: Bool
    public init(feature: Feature, enabled: Bool) {
        self.feature = feature
        self.enabled = enabled
    }
}
