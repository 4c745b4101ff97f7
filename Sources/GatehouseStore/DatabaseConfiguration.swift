import Foundation
import GatehouseCore

/// Where Gatehouse keeps its data: an embedded SQLite file, or a PostgreSQL server.
public enum DatabaseConfiguration: Sendable, Equatable {
    /// SQLite in `path` (the embedded default: `<data-dir>/gatehouse.sqlite`).
    case sqlite(path: String)
    /// PostgreSQL at `url`; `schema` (tests) sets the `search_path` of every connection.
    case postgres(PostgresURL, schema: String?)

    /// Parses a `--database-url`: `postgres://` / `postgresql://`, or `sqlite:///abs/path`.
    public static func parse(url: String) throws(GatehouseError) -> DatabaseConfiguration {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw GatehouseError(.invalidRequest, "the sqlite URL names no file") }
            return .sqlite(path: path)
        }
        return .postgres(try PostgresURL(url), schema: nil)
    }
}

/// The parts of a `postgres://user:password@host:port/database?sslmode=…` URL.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `disable` (default), `prefer` or `require`.
    public var sslMode: String

    /// Parses a PostgreSQL connection URL.
    public init(_ text: String) throws(GatehouseError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql", let host = components.host, !host.isEmpty
        else { throw GatehouseError(.invalidRequest, "the database URL must look like postgres://user:password@host:port/database") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.username : path
        self.sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw GatehouseError(.invalidRequest, "sslmode must be disable, prefer or require")
        }
    }

    /// The URL without its password, safe to log.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
