import NIOCore

/// What images, clips, attached channels and live-video templates need from storage. Sizes
/// count against the channel's and the account's `storage_used` only once an upload is
/// finished, in the transaction that checks both storage limits, so the counters stay exact
/// under concurrent uploads and across nodes.
public protocol MediaStore: Sendable {
    // MARK: Device credentials
    /// An agent's key hash, whether it is active, and its camera's device id.
    func mediaAgent(id: Int64) async throws -> (keyHash: String, active: Bool, deviceId: Int64?)?
    /// The device of an activated serial holding this CIK.
    func mediaDeviceId(cikHash: String) async throws -> Int64?

    // MARK: Uploads
    /// Starts an upload: a row that is not listed and counts nothing until ``finishMedia``.
    func beginMedia(_ new: NewMedia) async throws -> Int64
    func appendMediaChunk(mediaId: Int64, seq: Int64, data: ByteBuffer) async throws
    /// Makes an upload visible and counts its size; `insufficient_storage` (and nothing
    /// counted) when the channel's or the account's storage limit would be passed.
    func finishMedia(mediaId: Int64, size: Int64, sha256: String, at: Int64) async throws -> MediaItem
    /// Removes an unfinished upload with its chunks.
    func discardMedia(mediaId: Int64) async throws

    // MARK: Reading and deleting
    func mediaItems(_ query: MediaQuery) async throws -> OffsetPage<MediaItem>
    /// A finished item.
    func mediaItem(id: Int64) async throws -> MediaItem?
    func mediaChunk(mediaId: Int64, seq: Int64) async throws -> ByteBuffer?
    /// Deletes a finished item and releases its size; `not_found` when it is gone.
    func deleteMedia(id: Int64, at: Int64, audit: AuditIntent) async throws
    /// Removes items older than their channel's `records_max_age` (hours) and uploads left
    /// unfinished since before `staleBefore`; answers how many items went.
    func purgeExpiredMedia(now: Int64, staleBefore: Int64) async throws -> Int

    // MARK: Channels of existing devices
    /// The account's devices in id order, each saying whether it is a channel.
    func accountDevices(accountId: Int64, limit: Int, offset: Int) async throws -> OffsetPage<AccountDevice>
    /// Makes an existing device of the account a channel (`attached`: deleting the channel
    /// keeps the device); `not_found` for a device of another account, `conflict` when it is a
    /// channel already, `limit_exceeded` past `hosted_cameras`.
    func attachChannel(deviceId: Int64, accountId: Int64, timezone: String, recMode: RecordingMode, meta: [String: String],
                       tokens: [ChannelAccess: SealedSecret], at: Int64, audit: AuditIntent) async throws -> ChannelRecord

    // MARK: Live video
    func liveTemplates(accountId: Int64) async throws -> [String: String]
    func setLiveTemplates(accountId: Int64, templates: [String: String], at: Int64, audit: AuditIntent) async throws
}
