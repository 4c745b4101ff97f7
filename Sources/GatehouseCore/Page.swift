/// A page request: at most `limit` items with ids greater than `after` (keyset paging).
public struct PageRequest: Sendable, Hashable {
    /// The largest page size a caller may ask for.
    public static let maxLimit = 500
    public var limit: Int
    public var after: Int64?

    public init(limit: Int = 50, after: Int64? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Validates raw query values (`limit`, `cursor`).
    public static func parse(limit: String?, cursor: String?) throws(GatehouseError) -> PageRequest {
        var page = PageRequest()
        if let limit {
            guard let value = Int(limit), (1...maxLimit).contains(value) else {
                throw GatehouseError(.invalidRequest, "limit must be an integer from 1 to \(maxLimit)", field: "limit")
            }
            page.limit = value
        }
        if let cursor, !cursor.isEmpty {
            guard let value = Int64(cursor), value >= 0 else {
                throw GatehouseError(.invalidRequest, "cursor is not valid", field: "cursor")
            }
            page.after = value
        }
        return page
    }
}

/// One page of results, with the cursor of the next page when there is one.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?
    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}
