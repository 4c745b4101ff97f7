/// What a device uploads to its channel: a still image or a video clip.
public enum MediaKind: String, Codable, Hashable, Sendable, CaseIterable {
    case image
    case clip

    /// The content types a device may upload for this kind.
    public var contentTypes: Set<String> {
        switch self {
        case .image: ["image/jpeg", "image/png"]
        case .clip: ["video/mp4"]
        }
    }
}

/// A stored image or clip of a channel (the channel id is the device id).
public struct MediaItem: Hashable, Sendable {
    public var id: Int64
    public var channelId: Int64
    public var accountId: Int64
    public var kind: MediaKind
    /// When it was taken, seconds since 1970 (UTC).
    public var time: Int64
    /// A clip's length in seconds.
    public var duration: Int64?
    public var contentType: String
    public var size: Int64
    /// Hex SHA-256 of the bytes.
    public var sha256: String
    public var chunkSize: Int64
    public var createdAt: Int64

    public init(id: Int64, channelId: Int64, accountId: Int64, kind: MediaKind, time: Int64, duration: Int64?, contentType: String, size: Int64,
                sha256: String, chunkSize: Int64, createdAt: Int64) {
        self.id = id
        self.channelId = channelId
        self.accountId = accountId
        self.kind = kind
        self.time = time
        self.duration = duration
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.chunkSize = chunkSize
        self.createdAt = createdAt
    }
}

/// An upload under way: the row its chunks belong to until it is finished or discarded.
public struct NewMedia: Hashable, Sendable {
    public var channelId: Int64
    public var accountId: Int64
    public var kind: MediaKind
    public var time: Int64
    public var duration: Int64?
    public var contentType: String
    public var chunkSize: Int64
    public var at: Int64

    public init(channelId: Int64, accountId: Int64, kind: MediaKind, time: Int64, duration: Int64?, contentType: String, chunkSize: Int64, at: Int64) {
        self.channelId = channelId
        self.accountId = accountId
        self.kind = kind
        self.time = time
        self.duration = duration
        self.contentType = contentType
        self.chunkSize = chunkSize
        self.at = at
    }
}

/// Filters and paging of a media listing; results are newest first (by `time`, then id).
public struct MediaQuery: Hashable, Sendable {
    public var channelId: Int64
    public var kind: MediaKind
    /// Inclusive bounds in seconds.
    public var start: Int64?
    public var end: Int64?
    public var limit: Int
    public var offset: Int

    public init(channelId: Int64, kind: MediaKind, start: Int64? = nil, end: Int64? = nil, limit: Int = 20, offset: Int = 0) {
        self.channelId = channelId
        self.kind = kind
        self.start = start
        self.end = end
        self.limit = limit
        self.offset = offset
    }
}

/// The largest upload of each kind, in bytes.
public struct MediaLimits: Hashable, Sendable {
    public var imageMaxBytes: Int64
    public var clipMaxBytes: Int64

    public init(imageMaxBytes: Int64 = 10 << 20, clipMaxBytes: Int64 = 200 << 20) {
        self.imageMaxBytes = imageMaxBytes
        self.clipMaxBytes = clipMaxBytes
    }

    public func maxBytes(_ kind: MediaKind) -> Int64 {
        switch kind {
        case .image: imageMaxBytes
        case .clip: clipMaxBytes
        }
    }
}

/// A device of a license-key account, with the channel it is attached to (if any).
public struct AccountDevice: Hashable, Sendable {
    public var id: Int64
    public var kind: String
    public var name: String
    public var serial: String?
    /// Whether the device is a channel (the channel id is then the device id).
    public var hasChannel: Bool

    public init(id: Int64, kind: String, name: String, serial: String?, hasChannel: Bool) {
        self.id = id
        self.kind = kind
        self.name = name
        self.serial = serial
        self.hasChannel = hasChannel
    }
}
