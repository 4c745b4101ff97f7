import Crypto
import NIOCore

/// Images and clips of channels (issue 9 point 4): devices upload them with their own
/// credential (agent key, CIK, endpoint certificate) to the channel they are; front ends list,
/// fetch and delete them with the channel's `Acc` token (`watch` reads, `all` also deletes).
///
/// Only a device that is a channel may upload: a channel created through the tiered API is
/// one, and an account attaches any of its existing devices (an agent camera, a serial device,
/// an onboarded endpoint) with ``attachChannel(_:deviceId:settings:)``. Others are refused with
/// `conflict`, so an upload never lands where no token can read it.
public struct MediaLibrary: Sendable {
    public let store: any MediaStore
    public let tiered: TieredAccess
    public let limits: MediaLimits
    /// Size of the chunks uploads are stored in.
    public static let chunkSize = 256 * 1024
    /// Unfinished uploads older than this (seconds) are removed by maintenance.
    public static let staleUploadAge: Int64 = 3600

    public init(store: any MediaStore, tiered: TieredAccess, limits: MediaLimits) {
        self.store = store
        self.tiered = tiered
        self.limits = limits
    }

    var clock: any GatehouseClock { tiered.clock }

    // MARK: Device credentials

    /// The device of an active agent (`Authorization: Agent <id>:<key>`).
    public func device(agentCredential: String) async throws -> Int64 {
        let refused = GatehouseError(.unauthenticated, "the agent id or key is not valid")
        let parts = agentCredential.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, parts[1].utf8.count <= 256 else { throw refused }
        guard let agent = try await store.mediaAgent(id: id), Secrets.matches(String(parts[1]), hash: agent.keyHash) else { throw refused }
        guard agent.active, let deviceId = agent.deviceId else { throw GatehouseError(.unauthenticated, "the agent is not active") }
        return deviceId
    }

    /// The device of an activated serial (`X-Exosite-CIK`).
    public func device(cik: String) async throws -> Int64 {
        guard !cik.isEmpty, cik.utf8.count <= 256, let deviceId = try await store.mediaDeviceId(cikHash: Secrets.hash(cik)) else {
            throw GatehouseError(.unauthenticated, "the CIK is not valid")
        }
        return deviceId
    }

    // MARK: Uploads

    /// Stores an upload of device `deviceId` streamed from `body` in chunks (never whole in
    /// memory). Refused before anything is stored: a device that is no channel (`conflict`), a
    /// content type the kind does not take (`unsupported_media_type`), a declared length over
    /// the kind's limit (`payload_too_large`). A body that turns out too large, a failed
    /// upload or one past a storage limit (`insufficient_storage`) leaves nothing behind.
    public func upload<Body: AsyncSequence & Sendable>(deviceId: Int64, kind: MediaKind, contentType: String?, time: Int64?, duration: Int64?,
                                                       declaredLength: Int64?, body: Body) async throws -> MediaItem
    where Body.Element == ByteBuffer {
        guard let channel = try await tiered.store.channel(id: deviceId) else {
            throw GatehouseError(.conflict, "device \(deviceId) is not a channel: its account attaches it with POST /api/v3/devices/\(deviceId)/channel/")
        }
        let type = contentType.map(Self.mediaType) ?? ""
        guard kind.contentTypes.contains(type) else {
            throw GatehouseError(.unsupportedMediaType, "\(kind.rawValue)s must be \(kind.contentTypes.sorted().joined(separator: " or "))")
        }
        let now = clock.now()
        let time = time ?? now
        guard time >= 0, time <= now + 86_400 else { throw GatehouseError.invalid("time", "time must be unix seconds, not in the future") }
        var length: Int64?
        if kind == .clip {
            guard let duration, (0...86_400).contains(duration) else { throw GatehouseError.invalid("duration", "duration must be 0 to 86400 seconds") }
            length = duration
        }
        let maxBytes = limits.maxBytes(kind)
        if let declaredLength, declaredLength > maxBytes { throw tooLarge(kind) }
        if let limit = channel.limits.storageBytes, channel.storageBytes + (declaredLength ?? 0) > limit {
            throw GatehouseError(.insufficientStorage, "the channel's storage limit is reached")
        }
        let mediaId = try await store.beginMedia(NewMedia(channelId: channel.id, accountId: channel.accountId, kind: kind, time: time, duration: length,
                                                          contentType: type, chunkSize: Int64(Self.chunkSize), at: now))
        do {
            var hasher = SHA256()
            var pending = ByteBuffer()
            pending.reserveCapacity(Self.chunkSize)
            var seq: Int64 = 0, size: Int64 = 0
            for try await var buffer in body {
                size += Int64(buffer.readableBytes)
                guard size <= maxBytes else { throw tooLarge(kind) }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                while buffer.readableBytes > 0 {
                    let take = min(buffer.readableBytes, Self.chunkSize - pending.readableBytes)
                    var slice = buffer.readSlice(length: take)!
                    pending.writeBuffer(&slice)
                    if pending.readableBytes == Self.chunkSize {
                        try await store.appendMediaChunk(mediaId: mediaId, seq: seq, data: pending)
                        seq += 1
                        pending = ByteBuffer()
                        pending.reserveCapacity(Self.chunkSize)
                    }
                }
            }
            guard size > 0 else { throw GatehouseError.invalid("body", "the body is empty") }
            if pending.readableBytes > 0 { try await store.appendMediaChunk(mediaId: mediaId, seq: seq, data: pending) }
            return try await store.finishMedia(mediaId: mediaId, size: size, sha256: Secrets.hex(hasher.finalize()), at: clock.now())
        } catch {
            try? await store.discardMedia(mediaId: mediaId)
            throw error
        }
    }

    func tooLarge(_ kind: MediaKind) -> GatehouseError {
        GatehouseError(.payloadTooLarge, "\(kind.rawValue)s are limited to \(limits.maxBytes(kind)) bytes")
    }

    /// `image/jpeg` of `Image/JPEG; charset=…`.
    static func mediaType(_ header: String) -> String {
        String(header.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }

    // MARK: Front ends

    /// The channel a principal reads media of: an `Acc` token's own channel.
    func channelId(_ caller: TieredPrincipal) throws -> Int64 {
        guard case .channel(let channel) = caller else { throw GatehouseError(.forbidden, "this API needs a channel token (Authorization: Acc)") }
        return channel.channelId
    }

    /// The channel's images or clips taken within `start...end` (seconds), newest first.
    public func items(_ caller: TieredPrincipal, kind: MediaKind, start: Int64?, end: Int64?, limit: Int?, offset: Int?) async throws -> OffsetPage<MediaItem> {
        let channelId = try channelId(caller)
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        if let start, let end, start > end { throw GatehouseError.invalid("start", "start must not be after end") }
        return try await store.mediaItems(MediaQuery(channelId: channelId, kind: kind, start: start, end: end, limit: paging.limit, offset: paging.offset))
    }

    /// One item of the caller's channel (others' look as if they did not exist).
    public func item(_ caller: TieredPrincipal, kind: MediaKind, id: Int64) async throws -> MediaItem {
        let channelId = try channelId(caller)
        guard let item = try await store.mediaItem(id: id), item.channelId == channelId, item.kind == kind else {
            throw GatehouseError.notFound(kind.rawValue, id)
        }
        return item
    }

    /// Deletes an item of the caller's channel; only an `all` token may.
    public func delete(_ caller: TieredPrincipal, kind: MediaKind, id: Int64) async throws {
        let item = try await item(caller, kind: kind, id: id)
        guard case .channel(let channel) = caller, channel.access == .all else { throw GatehouseError(.forbidden, "a watch token cannot change anything") }
        try await store.deleteMedia(id: item.id, at: clock.now(), audit: AuditIntent(actor: TieredAccess.actor(caller), detail: "\(kind.rawValue) \(id)"))
    }

    /// The bytes `first...last` of an item, chunk by chunk, to `write`.
    public func stream(_ item: MediaItem, first: Int64, last: Int64, write: (ByteBuffer) async throws -> Void) async throws {
        guard last >= first, item.chunkSize > 0 else { return }
        var seq = first / item.chunkSize
        while seq * item.chunkSize <= last {
            guard let chunk = try await store.mediaChunk(mediaId: item.id, seq: seq) else {
                throw GatehouseError(.conflict, "\(item.kind.rawValue) \(item.id) was deleted while it was being read")
            }
            let start = seq * item.chunkSize
            let from = Int(max(first, start) - start), to = Int(min(last, start + Int64(chunk.readableBytes) - 1) - start)
            guard to >= from, let slice = chunk.getSlice(at: chunk.readerIndex + from, length: to - from + 1) else { break }
            try await write(slice)
            seq += 1
        }
    }

    /// Removes expired items and stale unfinished uploads (maintenance).
    public func purge() async throws -> Int {
        let now = clock.now()
        return try await store.purgeExpiredMedia(now: now, staleBefore: now - Self.staleUploadAge)
    }

    // MARK: Channels of existing devices (LKey)

    /// The account's devices, each saying whether it is a channel.
    public func devices(_ account: AccountPrincipal, limit: Int?, offset: Int?) async throws -> OffsetPage<AccountDevice> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        return try await store.accountDevices(accountId: account.accountId, limit: paging.limit, offset: paging.offset)
    }

    /// Makes an existing device of the account a channel with fresh `all` and `watch` tokens;
    /// deleting that channel later keeps the device. Source and name stay the device's own
    /// (change them afterwards with `PUT /api/v3/channels/{id}/`).
    public func attachChannel(_ account: AccountPrincipal, deviceId: Int64, settings: ChannelSettings) async throws -> Channel {
        let timezone = try TieredValidation.timezone(settings.timezone ?? "UTC")
        let meta = try TieredValidation.meta(settings.meta ?? [:])
        let record = try await store.attachChannel(
            deviceId: deviceId, accountId: account.accountId, timezone: timezone, recMode: settings.recMode ?? .off, meta: meta,
            tokens: try tiered.newChannelTokens(ChannelAccess.allCases), at: clock.now(),
            audit: AuditIntent(actor: TieredAccess.actor(.account(account)), detail: "device \(deviceId) attached"))
        return try tiered.present(record)
    }
}
