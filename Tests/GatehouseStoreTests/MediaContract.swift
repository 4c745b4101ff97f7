import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import NIOCore
import SQLKit
import Testing

/// Images and clips of channels (issue 9 point 4) over the real store, on both engines.
enum MediaContract {
    struct Fixture {
        let store: SQLStore
        let tiered: TieredAccess
        let media: MediaLibrary
    }

    static func fixture(_ database: any Database, limits: MediaLimits = MediaLimits(imageMaxBytes: 1000, clipMaxBytes: 5000)) throws -> Fixture {
        let store = SQLStore(database: database)
        let tiered = TieredAccess(store: store, vault: try SecretVault(keyData: SecretVault.generateKeyData()), clock: SystemClock(),
                                  endpoint: TieredEndpoint(host: "cams.example", port: 80, tlsPort: 443))
        return Fixture(store: store, tiered: tiered, media: MediaLibrary(store: store, tiered: tiered, limits: limits))
    }

    /// A body arriving in pieces, as a request body does.
    static func body(_ bytes: [UInt8], pieces: Int = 3) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            let step = max(1, (bytes.count + pieces - 1) / pieces)
            for start in stride(from: 0, to: bytes.count, by: step) {
                continuation.yield(ByteBuffer(bytes: bytes[start..<min(bytes.count, start + step)]))
            }
            continuation.finish()
        }
    }

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    static func read(_ media: MediaLibrary, _ item: MediaItem, first: Int64 = 0, last: Int64? = nil) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await media.stream(item, first: first, last: last ?? item.size - 1) { out += Array(buffer: $0) }
        return out
    }

    static func counts(_ database: any Database) async throws -> (items: Int64, chunks: Int64) {
        try await database.withConnection { db in
            let items = try await db.raw("SELECT COUNT(*) AS n FROM media_items").first()?.decode(column: "n", as: Int64.self) ?? -1
            let chunks = try await db.raw("SELECT COUNT(*) AS n FROM media_chunks").first()?.decode(column: "n", as: Int64.self) ?? -1
            return (items, chunks)
        }
    }

    static func channelPrincipal(_ tiered: TieredAccess, _ channel: GatehouseCore.Channel, _ access: ChannelAccess) async throws -> TieredPrincipal {
        try await tiered.authenticate(scheme: "Acc", credential: try #require(channel.accessTokens[access]))
    }

    /// Uploads are stored whole (bytes, hash, type), listed newest first within a time range,
    /// counted exactly, and refused before anything is stored when too large or of a wrong type.
    static func uploadsAreStoredWholeAndCounted(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try fixture(database)
            let (_, account) = try await TieredContract.account(f.tiered, "media@example.com")
            let channel = try await f.tiered.createChannel(account, ChannelSettings(name: "door"))
            let now = SystemClock().now()
            let first = bytes(700)
            let image = try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "image/jpeg", time: now - 100, duration: nil,
                                                 declaredLength: nil, body: body(first))
            #expect(image.size == 700 && image.contentType == "image/jpeg" && image.kind == .image)
            #expect(try await read(f.media, image) == first)
            #expect(try await read(f.media, image, first: 10, last: 19) == Array(first[10...19]))
            let second = try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "image/png; charset=binary", time: now, duration: nil,
                                                  declaredLength: 50, body: body(bytes(50, seed: 3)))
            let clip = try await f.media.upload(deviceId: channel.record.id, kind: .clip, contentType: "video/mp4", time: now - 50, duration: 12,
                                                declaredLength: nil, body: body(bytes(4000), pieces: 7))
            #expect(clip.duration == 12 && clip.size == 4000)

            let watch = try await channelPrincipal(f.tiered, channel, .watch)
            let images = try await f.media.items(watch, kind: .image, start: nil, end: nil, limit: nil, offset: nil)
            #expect(images.items.map(\.id) == [second.id, image.id] && images.total == 2)
            #expect(try await f.media.items(watch, kind: .image, start: now - 200, end: now - 1, limit: nil, offset: nil).items.map(\.id) == [image.id])
            #expect(try await f.media.items(watch, kind: .clip, start: nil, end: nil, limit: nil, offset: nil).items.map(\.id) == [clip.id])
            #expect(try await f.tiered.usage(account).usage.storageBytes == 4750)
            #expect(try await f.tiered.channel(account, id: channel.record.id).storageBytes == 4750)

            // Too large (declared or streamed), wrong type, clip without duration: refused, nothing left behind.
            let before = try await counts(database)
            #expect(await TieredContract.code { try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "image/jpeg", time: nil,
                                                                         duration: nil, declaredLength: nil, body: body(bytes(1001))) } == "payload_too_large")
            #expect(await TieredContract.code { try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "image/jpeg", time: nil,
                                                                         duration: nil, declaredLength: 5000, body: body(bytes(10))) } == "payload_too_large")
            #expect(await TieredContract.code { try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "video/mp4", time: nil,
                                                                         duration: nil, declaredLength: nil, body: body(bytes(10))) } == "unsupported_media_type")
            #expect(await TieredContract.code { try await f.media.upload(deviceId: channel.record.id, kind: .clip, contentType: "video/mp4", time: nil,
                                                                         duration: nil, declaredLength: nil, body: body(bytes(10))) } == "validation_failed")
            #expect(await TieredContract.code { try await f.media.upload(deviceId: channel.record.id, kind: .image, contentType: "image/jpeg", time: nil,
                                                                         duration: nil, declaredLength: nil, body: body([])) } == "validation_failed")
            #expect(try await counts(database) == before)
            #expect(try await f.tiered.usage(account).usage.storageBytes == 4750)

            // Only an `all` token deletes; a token of another channel sees nothing.
            let all = try await channelPrincipal(f.tiered, channel, .all)
            #expect(await TieredContract.code { try await f.media.delete(watch, kind: .image, id: image.id) } == "forbidden")
            let other = try await f.tiered.createChannel(account, ChannelSettings(name: "yard"))
            let stranger = try await channelPrincipal(f.tiered, other, .all)
            #expect(await TieredContract.code { try await f.media.item(stranger, kind: .image, id: image.id) } == "not_found")
            #expect(await TieredContract.code { try await f.media.delete(stranger, kind: .image, id: image.id) } == "not_found")
            #expect(await TieredContract.code { try await f.media.item(all, kind: .clip, id: image.id) } == "not_found")
            try await f.media.delete(all, kind: .image, id: image.id)
            #expect(await TieredContract.code { try await f.media.delete(all, kind: .image, id: image.id) } == "not_found")
            #expect(try await f.tiered.usage(account).usage.storageBytes == 4050)
            #expect(try await counts(database).items == before.items - 1)

            // Deleting the channel releases the rest.
            try await f.tiered.deleteChannel(account, id: channel.record.id)
            #expect(try await f.tiered.usage(account).usage.storageBytes == 0)
            #expect(try await counts(database) == (0, 0))
        }
    }

    /// Concurrent uploads never pass the account's or the channel's storage limit, and the
    /// counters equal the sum of what is stored.
    static func concurrentUploadsKeepStorageExact(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try fixture(database)
            let (_, account) = try await TieredContract.account(f.tiered, "full@example.com", limits: AccountLimits(storageBytes: 1000))
            let a = try await f.tiered.createChannel(account, ChannelSettings(name: "a"))
            let b = try await f.tiered.createChannel(account, ChannelSettings(name: "b"))
            _ = try await f.tiered.setChannelLimits(account, id: b.record.id, ChannelLimits(storageBytes: 300))
            let outcomes = await withTaskGroup(of: (Int64, String?).self) { group in
                for n in 0..<16 {
                    let channel = n % 2 == 0 ? a.record.id : b.record.id
                    group.addTask {
                        (channel, await TieredContract.code {
                            try await f.media.upload(deviceId: channel, kind: .image, contentType: "image/jpeg", time: nil, duration: nil,
                                                     declaredLength: nil, body: body(bytes(150), pieces: 2))
                        })
                    }
                }
                return await group.reduce(into: [(Int64, String?)]()) { $0.append($1) }
            }
            let storedB = outcomes.filter { $0.0 == b.record.id && $0.1 == nil }.count
            let storedAll = outcomes.filter { $0.1 == nil }.count
            #expect(storedB <= 2)
            #expect(storedAll == 6, "\(outcomes)")
            #expect(outcomes.allSatisfy { $0.1 == nil || $0.1 == "insufficient_storage" }, "\(outcomes)")
            let usage = try await f.tiered.usage(account).usage.storageBytes
            #expect(usage == Int64(storedAll) * 150)
            let sum = try await database.withConnection { db in
                try await db.raw("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n, COUNT(*) AS c FROM media_items WHERE state = 'stored'").first()
            }
            #expect(try sum?.decode(column: "n", as: Int64.self) == usage && sum?.decode(column: "c", as: Int64.self) == Int64(storedAll))
            #expect(try await counts(database).items == Int64(storedAll))
            #expect(try await f.tiered.channel(account, id: b.record.id).storageBytes == Int64(storedB) * 150)
        }
    }

    /// Maintenance removes items past their channel's `records_max_age` and unfinished uploads,
    /// and gives their bytes back.
    static func purgeFollowsRecordsMaxAge(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try fixture(database)
            let (_, account) = try await TieredContract.account(f.tiered, "old@example.com")
            let kept = try await f.tiered.createChannel(account, ChannelSettings(name: "forever"))
            let aged = try await f.tiered.createChannel(account, ChannelSettings(name: "one hour"))
            _ = try await f.tiered.setChannelLimits(account, id: aged.record.id, ChannelLimits(recordsMaxAge: 1))
            let now = SystemClock().now()
            for (channel, time) in [(kept.record.id, now - 7200), (aged.record.id, now - 7200), (aged.record.id, now - 60)] {
                _ = try await f.media.upload(deviceId: channel, kind: .image, contentType: "image/jpeg", time: time, duration: nil,
                                             declaredLength: nil, body: body(bytes(100)))
            }
            let stale = try await f.store.beginMedia(NewMedia(channelId: kept.record.id, accountId: account.accountId, kind: .image, time: now,
                                                              duration: nil, contentType: "image/jpeg", chunkSize: 1024, at: now - 7200))
            try await f.store.appendMediaChunk(mediaId: stale, seq: 0, data: ByteBuffer(bytes: bytes(10)))
            #expect(try await f.tiered.usage(account).usage.storageBytes == 300)
            #expect(try await f.media.purge() == 1)
            #expect(try await f.tiered.usage(account).usage.storageBytes == 200)
            #expect(try await f.tiered.channel(account, id: aged.record.id).storageBytes == 100)
            let watch = try await channelPrincipal(f.tiered, aged, .watch)
            #expect(try await f.media.items(watch, kind: .image, start: nil, end: nil, limit: nil, offset: nil).items.map(\.time) == [now - 60])
            #expect(try await counts(database) == (2, 2))
            #expect(try await f.media.purge() == 0)
        }
    }

    /// An existing device of the account becomes a channel (its own id), once; a device of
    /// another account cannot; a device that is no channel cannot upload; deleting an attached
    /// channel keeps the device but drops its media and releases their bytes.
    static func attachedChannelsKeepTheirDevice(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let f = try fixture(database)
            let (_, account) = try await TieredContract.account(f.tiered, "attach@example.com", limits: AccountLimits(hostedCameras: 1))
            let (_, other) = try await TieredContract.account(f.tiered, "other@example.com")
            let now = SystemClock().now()
            let camera = try await f.store.createDevice(tenantId: account.accountId, kind: "camera", name: "agent cam", serial: "SN-1", at: now, audit: AuditIntent(actor: "test"))
            let spare = try await f.store.createDevice(tenantId: account.accountId, kind: "serial", name: "spare", serial: "SN-2", at: now, audit: AuditIntent(actor: "test"))
            let foreign = try await f.store.createDevice(tenantId: other.accountId, kind: "camera", name: "theirs", serial: nil, at: now, audit: AuditIntent(actor: "test"))

            #expect(await TieredContract.code { try await f.media.upload(deviceId: camera.id, kind: .image, contentType: "image/jpeg", time: nil,
                                                                         duration: nil, declaredLength: nil, body: body(bytes(10))) } == "conflict")
            #expect(await TieredContract.code { try await f.media.attachChannel(account, deviceId: foreign.id, settings: ChannelSettings()) } == "not_found")
            let channel = try await f.media.attachChannel(account, deviceId: camera.id, settings: ChannelSettings(timezone: "Europe/Berlin"))
            #expect(channel.record.id == camera.id && channel.record.name == "agent cam" && channel.record.timezone == "Europe/Berlin")
            #expect(channel.accessTokens.keys.sorted { $0.rawValue < $1.rawValue } == [.all, .watch])
            #expect(await TieredContract.code { try await f.media.attachChannel(account, deviceId: camera.id, settings: ChannelSettings()) } == "conflict")
            #expect(await TieredContract.code { try await f.media.attachChannel(account, deviceId: spare.id, settings: ChannelSettings()) } == "limit_exceeded")
            let devices = try await f.media.devices(account, limit: nil, offset: nil)
            #expect(devices.items.map(\.id) == [camera.id, spare.id] && devices.items.map(\.hasChannel) == [true, false])

            _ = try await f.media.upload(deviceId: camera.id, kind: .image, contentType: "image/jpeg", time: nil, duration: nil, declaredLength: nil, body: body(bytes(64)))
            #expect(try await f.tiered.usage(account).usage.storageBytes == 64)
            try await f.tiered.deleteChannel(account, id: camera.id)
            #expect(try await f.store.device(id: camera.id) != nil)
            #expect(try await f.tiered.store.channel(id: camera.id) == nil)
            #expect(try await f.tiered.usage(account).usage.storageBytes == 0)
            #expect(try await counts(database) == (0, 0))
            #expect(await TieredContract.code { try await f.tiered.authenticate(scheme: "Acc", credential: channel.accessTokens[.all]!) } == "unauthenticated")
            // Attached again, it gets fresh tokens.
            _ = try await f.media.attachChannel(account, deviceId: camera.id, settings: ChannelSettings())
        }
    }
}
