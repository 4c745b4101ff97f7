import Foundation
import GatehouseCore
import SQLKit

/// One query for everything an onboarding call checks (see ``OnboardingContext``), shared by
/// the calls that arrive together.
extension SQLStore {
    /// `a.id AS a_id, …` for a column list of one alias.
    static func prefixed(_ columns: String, _ alias: String) -> String {
        columns.split(separator: ",").map { column in
            let name = column.trimmingCharacters(in: .whitespaces)
            let bare = name.hasPrefix("\(alias).") ? String(name.dropFirst(alias.count + 1)) : name
            return "\(alias).\(bare) AS \(alias)_\(bare)"
        }.joined(separator: ", ")
    }

    static let onboardingContextColumns = [
        prefixed(applicationColumns, "a"), prefixed(versionColumns, "v"), prefixed(registrationCodeColumns, "c"), prefixed(tenantColumns, "t"),
    ].joined(separator: ", ")

    public func onboardingContext(_ query: OnboardingContextQuery) async throws -> OnboardingContext {
        guard let context = try await onboardingContexts.read(query) else { throw GatehouseError(.internal, "the onboarding context query answered no row") }
        return context
    }

    /// The contexts of several calls in one query (calls arriving together share it, see ``ReadCoalescer``).
    static func readOnboardingContexts(_ database: any Database, queries: [OnboardingContextQuery]) async throws -> [OnboardingContextQuery: OnboardingContext] {
        guard !queries.isEmpty else { return [:] }
        var rows = SQLQueryString("")
        for (index, query) in queries.enumerated() {
            rows.appendInterpolation(unsafeRaw: index == 0 ? "(\(index), " : ", (\(index), ")
            rows.appendInterpolation(binds: [query.applicationId, query.versionId, query.codeHash, query.failureScope] as [any Encodable & Sendable])
            rows.appendInterpolation(unsafeRaw: ", \(query.sinceMinute))")
        }
        let values = rows
        return try await database.withConnection { db in
            var found: [OnboardingContextQuery: OnboardingContext] = [:]
            for row in try await db.raw("""
                WITH q (k, application_id, version_id, code_hash, scope, since) AS (VALUES \(values))
                SELECT q.k AS k, \(unsafeRaw: Self.onboardingContextColumns), d.path AS developer_path, o.account_uuid AS account_uuid,
                    (SELECT CAST(COALESCE(SUM(f.failures), 0) AS BIGINT) FROM activation_failures f
                     WHERE f.scope = CAST(q.scope AS TEXT) AND f.minute >= q.since) AS failures
                FROM q
                LEFT JOIN onboarding_applications a ON a.application_id = CAST(q.application_id AS TEXT)
                LEFT JOIN certification_versions v ON v.version_id = CAST(q.version_id AS TEXT)
                LEFT JOIN registration_codes c ON c.code_hash = CAST(q.code_hash AS TEXT)
                LEFT JOIN tenants t ON t.id = c.tenant_id
                LEFT JOIN tenants d ON d.id = a.tenant_id
                LEFT JOIN onboarding_accounts o ON o.tenant_id = c.tenant_id
                """).all() {
                let index = Int(try row.decode(column: "k", as: Int64.self))
                guard queries.indices.contains(index) else { continue }
                func part<T>(_ alias: String, _ decode: (any SQLRow) throws -> T) throws -> T? {
                    let prefixedRow = PrefixedRow(row: row, prefix: alias + "_")
                    return try prefixedRow.decodeNil(column: "id") ? nil : decode(prefixedRow)
                }
                found[queries[index]] = OnboardingContext(
                    application: try part("a", Self.onboardingApplication(from:)), version: try part("v", Self.certificationVersion(from:)),
                    code: try part("c", Self.registrationCode(from:)), account: try part("t", Self.tenant(from:)),
                    accountUUID: try row.decode(column: "account_uuid", as: String?.self),
                    developerPath: try row.decode(column: "developer_path", as: String?.self),
                    failures: try row.decode(column: "failures", as: Int64.self))
            }
            return found
        }
    }
}

/// The columns of a row whose names start with `prefix`, under their names without it.
struct PrefixedRow: SQLRow {
    let row: any SQLRow
    let prefix: String

    var allColumns: [String] { row.allColumns.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
    func contains(column: String) -> Bool { row.contains(column: prefix + column) }
    func decodeNil(column: String) throws -> Bool { try row.decodeNil(column: prefix + column) }
    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D { try row.decode(column: prefix + column, as: type) }
}
