/// One versioned step of the schema, with its DDL for each engine.
///
/// Migrations are append-only: a released step is never edited, only followed by a new one,
/// and each step only adds (tables, columns with defaults, indexes) so that no upgrade loses data.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sqlite: [String]
    public let postgres: [String]

    /// The statements for `engine`.
    public func statements(for engine: DatabaseEngine) -> [String] {
        engine == .sqlite ? sqlite : postgres
    }
}
