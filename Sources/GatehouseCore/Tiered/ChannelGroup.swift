/// A group of an account's channels with its `SI` token (seed 002).
public struct ChannelGroupRecord: Hashable, Sendable {
    public var id: Int64
    public var accountId: Int64
    public var name: String
    public var channelIds: [Int64]
    public var token: SealedSecret
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, accountId: Int64, name: String, channelIds: [Int64], token: SealedSecret, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.accountId = accountId
        self.name = name
        self.channelIds = channelIds
        self.token = token
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A group with its token opened, as its account sees it.
public struct ChannelGroup: Hashable, Sendable {
    public var record: ChannelGroupRecord
    public var token: String
    public init(record: ChannelGroupRecord, token: String) {
        self.record = record
        self.token = token
    }
}

/// A time-stamped event of a channel with a JSON payload.
public struct ChannelEvent: Hashable, Sendable {
    public var id: Int64
    public var channelId: Int64
    public var type: String
    /// Event time, milliseconds since 1970 (UTC).
    public var time: Int64
    /// The payload as JSON text (an object).
    public var payload: String
    public var createdAt: Int64

    public init(id: Int64, channelId: Int64, type: String, time: Int64, payload: String, createdAt: Int64) {
        self.id = id
        self.channelId = channelId
        self.type = type
        self.time = time
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// Filters and paging of an event listing; results are newest first.
public struct EventQuery: Hashable, Sendable {
    public var channelIds: [Int64]
    public var type: String?
    /// Inclusive bounds in milliseconds.
    public var start: Int64?
    public var end: Int64?
    public var limit: Int
    public var offset: Int

    public init(channelIds: [Int64], type: String? = nil, start: Int64? = nil, end: Int64? = nil, limit: Int = 20, offset: Int = 0) {
        self.channelIds = channelIds
        self.type = type
        self.start = start
        self.end = end
        self.limit = limit
        self.offset = offset
    }
}

/// One page of an offset-paged listing with the total count (the seed's list shape).
public struct OffsetPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var total: Int64
    public var limit: Int
    public var offset: Int
    public init(items: [Item], total: Int64, limit: Int, offset: Int) {
        self.items = items
        self.total = total
        self.limit = limit
        self.offset = offset
    }
}

extension OffsetPage {
    /// The same page with each item transformed.
    public func map<T: Sendable>(_ transform: (Item) throws -> T) rethrows -> OffsetPage<T> {
        OffsetPage<T>(items: try items.map(transform), total: total, limit: limit, offset: offset)
    }
}
