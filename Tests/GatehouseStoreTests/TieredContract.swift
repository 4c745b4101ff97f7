import Foundation
import GatehouseCore
import GatehouseStore
import GatehouseTestSupport
import SQLKit
import Testing

/// The tiered-access rules (seed 002) over the real store, run on both engines.
enum TieredContract {
    static func service(_ database: any Database, vault: SecretVault? = nil) throws -> TieredAccess {
        TieredAccess(store: SQLStore(database: database), vault: try vault ?? SecretVault(keyData: SecretVault.generateKeyData()),
                     clock: SystemClock(), endpoint: TieredEndpoint(host: "cams.example", port: 80, tlsPort: 443))
    }

    static func account(_ tiered: TieredAccess, _ suid: String, limits: AccountLimits = AccountLimits(), key: String? = nil) async throws -> (TieredAccount, AccountPrincipal) {
        let account = try await tiered.createAccount(NewTieredAccount(suid: suid, usrc: nil, licenseKey: key, limits: limits, parentKey: nil),
                                                     actor: "test", parentId: Management.platformTenantId)
        guard case .account(let principal) = try await tiered.authenticate(scheme: "LKey", credential: account.licenseKey) else {
            throw GatehouseError(.internal, "not an account principal")
        }
        return (account, principal)
    }

    static func code(_ body: () async throws -> some Any) async -> String? {
        do { _ = try await body(); return nil } catch let error as GatehouseError { return error.code.rawValue } catch { return "\(error)" }
    }

    /// `hosted_cameras` and storage limits hold when many requests race, and deleting gives room back.
    static func limitsHoldUnderConcurrency(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let tiered = try service(database)
            let (_, account) = try await account(tiered, "racer@example.com", limits: AccountLimits(hostedCameras: 5, storageBytes: 1000))
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for n in 0..<20 { group.addTask { await code { try await tiered.createChannel(account, ChannelSettings(name: "cam \(n)")) } } }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 5)
            #expect(outcomes.filter { $0 == "limit_exceeded" }.count == 15)
            let channels = try await tiered.channels(account, limit: 100, offset: 0)
            #expect(channels.total == 5)

            // Per-channel storage limit: 100 bytes; each event is 6 + 24 = 30 bytes, so three fit.
            let first = channels.items[0].record
            _ = try await tiered.setChannelLimits(account, id: first.id, ChannelLimits(storageBytes: 100))
            let stored = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask { await code { try await tiered.addEvent(.account(account), channelId: first.id, type: "motion", time: nil, payload: #"{"zone":"front-door-00"}"#) } }
                }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(stored.filter { $0 == nil }.count == 3)
            #expect(stored.filter { $0 == "limit_exceeded" }.count == 5)
            #expect(try await tiered.usage(account).usage.storageBytes == 90)

            // Deleting a channel frees its camera slot and its storage.
            try await tiered.deleteChannel(account, id: first.id)
            let after = try await tiered.usage(account)
            #expect(after.usage.channels == 4)
            #expect(after.usage.storageBytes == 0)
            _ = try await tiered.createChannel(account, ChannelSettings(name: "replacement"))
            #expect(await code { try await tiered.createChannel(account, ChannelSettings(name: "one too many")) } == "limit_exceeded")
        }
    }

    /// Creations racing for several accounts share transactions but keep each account's
    /// limit, count its tokens, audit each channel under its account, and leave nothing of a
    /// refused creation; a channel read after a write (event, edit) shows the write.
    static func batchedCreationsPerAccount(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let tiered = try service(database)
            let (_, limited) = try await account(tiered, "limited@example.com", limits: AccountLimits(hostedCameras: 3))
            let (_, open) = try await account(tiered, "open@example.com")
            let outcomes = await withTaskGroup(of: (Int64, String?).self) { group in
                for n in 0..<30 {
                    let owner = n % 2 == 0 ? limited : open
                    group.addTask { (owner.accountId, await code { try await tiered.createChannel(owner, ChannelSettings(name: "cam \(n)")) }) }
                }
                return await group.reduce(into: [(Int64, String?)]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0.0 == limited.accountId && $0.1 == nil }.count == 3)
            #expect(outcomes.filter { $0.0 == limited.accountId && $0.1 == "limit_exceeded" }.count == 12)
            #expect(outcomes.filter { $0.0 == open.accountId && $0.1 == nil }.count == 15)
            for (owner, created) in [(limited, 3), (open, 15)] {
                let usage = try await tiered.usage(owner).usage
                #expect(usage.channels == created)
                #expect(usage.tokensIssued == Int64(created * 2))
            }
            let counts = try await database.withConnection { db in
                let devices = try await db.raw("SELECT COUNT(*) AS n FROM devices WHERE tenant_id = \(bind: limited.accountId)").first()?.decode(column: "n", as: Int64.self)
                let tokens = try await db.raw("""
                    SELECT COUNT(*) AS n FROM channel_tokens k JOIN channels c ON c.device_id = k.device_id WHERE c.tenant_id = \(bind: limited.accountId)
                    """).first()?.decode(column: "n", as: Int64.self)
                let audited = try await db.raw("""
                    SELECT COUNT(*) AS n FROM audit_log WHERE action = 'channel.create' AND tenant_path IS NOT NULL
                    AND tenant_id IN (\(bind: limited.accountId), \(bind: open.accountId))
                    """).first()?.decode(column: "n", as: Int64.self)
                return (devices, tokens, audited)
            }
            #expect(counts.0 == 3 && counts.1 == 6 && counts.2 == 18)

            // Reads after writes: storage after an event, a new name after an edit.
            let channel = try await tiered.channels(open, limit: 1, offset: 0).items[0].record
            #expect(try await tiered.channel(open, id: channel.id).storageBytes == 0)
            _ = try await tiered.addEvent(.account(open), channelId: channel.id, type: "motion", time: nil, payload: "{}")
            #expect(try await tiered.channel(open, id: channel.id).storageBytes == 8)
            _ = try await tiered.updateChannel(.account(open), id: channel.id, ChannelSettings(name: "renamed"))
            #expect(try await tiered.channel(open, id: channel.id).name == "renamed")
        }
    }

    /// Tokens are stored hashed and sealed, rotate at once, and a watch token changes nothing.
    static func tokensRotateAndAreNotStoredInClear(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let tiered = try service(database)
            let (created, account) = try await account(tiered, "owner@example.com", key: "LICENSEKEY-0001")
            #expect(created.licenseKey == "LICENSEKEY-0001")
            let channel = try await tiered.createChannel(account, ChannelSettings(name: "door", sourcePassword: "cam-secret-pw", meta: ["floor": "1"]))
            let all = try #require(channel.accessTokens[.all]), watch = try #require(channel.accessTokens[.watch])

            // Nothing secret is stored in clear.
            let secrets = [created.licenseKey, try ChannelTokenCodec.decode(all).secret, try ChannelTokenCodec.decode(watch).secret, "cam-secret-pw"]
            let dump = try await database.withConnection { db in
                var text = ""
                for table in ["tiered_accounts", "channels", "channel_tokens", "audit_log"] {
                    for row in try await db.raw("SELECT * FROM \(unsafeRaw: table)").all() {
                        for column in row.allColumns { text += ((try? row.decode(column: column, as: String?.self)) ?? nil) ?? "" }
                    }
                }
                return text
            }
            for secret in secrets { #expect(!dump.contains(secret)) }

            // A watch token reads but cannot write.
            let watcher = try await tiered.authenticate(scheme: "Acc", credential: watch)
            #expect(await code { try await tiered.setChannelMeta(watcher, id: channel.record.id, ["floor": "2"]) } == "forbidden")
            #expect(await code { try await tiered.addEvent(watcher, channelId: channel.record.id, type: "x", time: nil, payload: "{}") } == "forbidden")
            #expect(try await tiered.channel(account, id: channel.record.id).meta == ["floor": "1"])

            // A forged camid does not pass, and another channel's id cannot be read with this token.
            var forged = try #require(try JSONSerialization.jsonObject(with: Data(base64Encoded: all)!) as? [String: Any])
            forged["camid"] = channel.record.id + 1
            let forgedToken = try JSONSerialization.data(withJSONObject: forged).base64EncodedString()
            #expect(await code { try await tiered.authenticate(scheme: "Acc", credential: forgedToken) } == "unauthenticated")

            // Rotation ends the old token at once.
            let rotated = try await tiered.regenerateChannelTokens(account, id: channel.record.id, access: .all)
            #expect(await code { try await tiered.authenticate(scheme: "Acc", credential: all) } == "unauthenticated")
            _ = try await tiered.authenticate(scheme: "Acc", credential: try #require(rotated.accessTokens[.all]))
            _ = try await tiered.authenticate(scheme: "Acc", credential: watch)  // only `all` was rotated

            // The license key too; the old key is dead, the new one is what the super-admin sees.
            let renewed = try await tiered.regenerateLicenseKey(id: created.record.tenantId, value: nil, actor: "test")
            #expect(renewed.licenseKey.hasPrefix("v3.") && renewed.licenseKey.count == 35)
            #expect(await code { try await tiered.authenticate(scheme: "LKey", credential: "LICENSEKEY-0001") } == "unauthenticated")
            #expect(try await tiered.findAccounts(suid: nil, licenseKey: renewed.licenseKey, limit: nil, offset: nil).items.map(\.licenseKey) == [renewed.licenseKey])
            #expect(try await tiered.findAccounts(suid: nil, licenseKey: "LICENSEKEY-0001", limit: nil, offset: nil).total == 0)

            // Group tokens see only their channels and rotate too.
            let other = try await tiered.createChannel(account, ChannelSettings(name: "yard"))
            let group = try await tiered.createGroup(account, name: "front", channelIds: [channel.record.id])
            let member = try await tiered.authenticate(scheme: "SI", credential: group.token)
            _ = try await tiered.readableChannel(member, id: channel.record.id)
            #expect(await code { try await tiered.readableChannel(member, id: other.record.id) } == "not_found")
            let regrouped = try await tiered.updateGroup(account, id: group.record.id, name: nil, channelIds: nil, regenerateToken: true)
            #expect(await code { try await tiered.authenticate(scheme: "SI", credential: group.token) } == "unauthenticated")
            _ = try await tiered.authenticate(scheme: "SI", credential: regrouped.token)

            // Duplicates are refused.
            #expect(await code { try await Self.account(tiered, "owner@example.com") } == "conflict")
            #expect(await code { try await Self.account(tiered, "second@example.com", key: renewed.licenseKey) } == "conflict")
        }
    }

    /// Events come newest first, with paging, type and time filters.
    static func eventsNewestFirst(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let tiered = try service(database)
            let (_, account) = try await account(tiered, "events@example.com")
            let channel = try await tiered.createChannel(account, ChannelSettings(name: "door")).record
            let caller = TieredPrincipal.account(account)
            for (index, type) in ["motion", "sound", "motion", "motion"].enumerated() {
                _ = try await tiered.addEvent(caller, channelId: channel.id, type: type, time: 1_000_000 + Int64(index) * 1000, payload: #"{"n":\#(index)}"#)
            }
            let all = try await tiered.events(caller, channelId: channel.id, type: nil, start: nil, end: nil, limit: 2, offset: 0)
            #expect(all.total == 4)
            #expect(all.items.map(\.time) == [1_003_000, 1_002_000])
            let page2 = try await tiered.events(caller, channelId: channel.id, type: nil, start: nil, end: nil, limit: 2, offset: 2)
            #expect(page2.items.map(\.time) == [1_001_000, 1_000_000])
            let motion = try await tiered.events(caller, channelId: channel.id, type: "motion", start: 1_000_500, end: 1_002_000, limit: nil, offset: nil)
            #expect(motion.items.map(\.payload) == [#"{"n":2}"#])
            #expect(await code { try await tiered.events(caller, channelId: channel.id, type: nil, start: 5, end: 4, limit: nil, offset: nil) } == "validation_failed")
        }
    }

    /// Usage from several nodes adds up; a new month starts the bandwidth counter again; a
    /// database sealed with one master key refuses another.
    static func usageAndMasterKey(_ engine: DatabaseEngine) async throws {
        try await TestDatabases.withMigrated(engine) { database in
            let store = SQLStore(database: database)
            let tiered = try service(database)
            let (created, _) = try await account(tiered, "usage@example.com")
            let id = created.record.tenantId
            try await store.addUsage([id: (apiCalls: 3, bandwidthBytes: 300)], month: 202611)
            try await store.addUsage([id: (apiCalls: 2, bandwidthBytes: 200)], month: 202611)
            var usage = try #require(try await store.tieredAccount(id: id)).usage
            #expect(usage.apiCalls == 5 && usage.bandwidthBytes == 500 && usage.bandwidthMonth == 202611)
            try await store.addUsage([id: (apiCalls: 1, bandwidthBytes: 7)], month: 202612)
            usage = try #require(try await store.tieredAccount(id: id)).usage
            #expect(usage.apiCalls == 6 && usage.bandwidthBytes == 7 && usage.bandwidthMonth == 202612)

            let first = try SecretVault(keyData: SecretVault.generateKeyData()), second = try SecretVault(keyData: SecretVault.generateKeyData())
            try await store.checkMasterKey(first.checkValue, at: 1)
            try await store.checkMasterKey(first.checkValue, at: 2)
            await #expect(throws: GatehouseError.self) { try await store.checkMasterKey(second.checkValue, at: 3) }
        }
    }
}
