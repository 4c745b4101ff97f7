import GatehouseCore
import NIOCore
import SQLKit

extension SQLStore {
    static let contentColumns = "c.id, c.model_id, c.name, c.meta, c.protected, c.blob_id, c.content_type, c.size, c.sha256, c.updated_at"

    static func content(from row: any SQLRow) throws -> ContentItem {
        ContentItem(id: try row.decode(column: "id", as: Int64.self), modelId: try row.decode(column: "model_id", as: Int64.self),
                    name: try row.decode(column: "name", as: String.self), meta: try row.decode(column: "meta", as: String.self),
                    isProtected: try row.decode(column: "protected", as: Int64.self) != 0, blobId: try row.decode(column: "blob_id", as: Int64?.self),
                    contentType: try row.decode(column: "content_type", as: String?.self), size: try row.decode(column: "size", as: Int64.self),
                    sha256: try row.decode(column: "sha256", as: String?.self), updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    static func modelVendor(_ db: any SQLDatabase, _ modelId: Int64) async throws -> Int64? {
        try await db.raw("SELECT vendor_id FROM provision_models WHERE id = \(bind: modelId)").first()?.decode(column: "vendor_id", as: Int64.self)
    }

    // MARK: Content

    public func createContent(modelId: Int64, name: String, meta: String, isProtected: Bool, at: Int64, audit: AuditIntent) async throws -> ContentItem {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        return try await database.transaction { db in
            if try await db.raw("SELECT id FROM provision_contents WHERE model_id = \(bind: modelId) AND name = \(bind: name)").first() != nil {
                throw GatehouseError(.conflict, "content \(name) already exists", field: "id")
            }
            guard let row = try await db.raw("""
                INSERT INTO provision_contents (model_id, name, meta, protected, size, created_at, updated_at)
                VALUES (\(bind: modelId), \(bind: name), \(bind: meta), \(bind: Int64(isProtected ? 1 : 0)), 0, \(bind: at), \(bind: at))
                RETURNING id, model_id, name, meta, protected, blob_id, content_type, size, sha256, updated_at
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let item = try Self.content(from: row)
            try await Self.audit(db, at: at, intent: audit, action: "provision.content.create", targetType: "provision_content", targetId: String(item.id),
                                 tenantId: try await Self.modelVendor(db, modelId))
            return item
        }
    }

    public func contents(modelId: Int64) async throws -> [ContentItem] {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.contentColumns) FROM provision_contents c WHERE c.model_id = \(bind: modelId) ORDER BY c.name")
                .all().map(Self.content(from:))
        }
    }

    public func content(modelId: Int64, name: String) async throws -> ContentItem? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.contentColumns) FROM provision_contents c WHERE c.model_id = \(bind: modelId) AND c.name = \(bind: name)")
                .first().map(Self.content(from:))
        }
    }

    public func visibleContents(modelId: Int64, sn: String, at: Int64) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT c.name FROM provision_contents c
                WHERE c.model_id = \(bind: modelId) AND (c.protected = 0 OR \(Self.sharedGroup(content: "c.name", boundSN: sn, model: "c.model_id", at: at)))
                ORDER BY c.name
                """).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }

    public func contentVisible(modelId: Int64, contentName: String, sn: String, at: Int64) async throws -> ContentItem? {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.contentColumns) FROM provision_contents c
                WHERE c.model_id = \(bind: modelId) AND c.name = \(bind: contentName)
                    AND (c.protected = 0 OR \(Self.sharedGroup(content: "c.name", boundSN: sn, model: "c.model_id", at: at)))
                """).first().map(Self.content(from:))
        }
    }

    public func deleteContent(modelId: Int64, name: String, at: Int64, audit: AuditIntent) async throws {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        try await database.transaction { db in
            guard let row = try await db.raw("DELETE FROM provision_contents WHERE model_id = \(bind: modelId) AND name = \(bind: name) RETURNING id").first()
            else { throw GatehouseError.notFound("content", name) }
            try await db.raw("""
                DELETE FROM provision_group_members WHERE member_type = 'content' AND member_id = \(bind: name)
                    AND group_id IN (SELECT id FROM provision_groups WHERE model_id = \(bind: modelId))
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "provision.content.delete", targetType: "provision_content",
                                 targetId: String(try row.decode(column: "id", as: Int64.self)), tenantId: try await Self.modelVendor(db, modelId))
        }
    }

    // MARK: Blobs

    public func beginBlob(contentId: Int64, chunkSize: Int, at: Int64) async throws -> Int64 {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO provision_blobs (content_id, chunk_size, created_at) VALUES (\(bind: contentId), \(bind: Int64(chunkSize)), \(bind: at)) RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            return try row.decode(column: "id", as: Int64.self)
        }
    }

    public func appendBlobChunk(blobId: Int64, seq: Int64, data: ByteBuffer) async throws {
        try await database.transaction { db in
            try await db.raw("INSERT INTO provision_blob_chunks (blob_id, seq, data) VALUES (\(bind: blobId), \(bind: seq), \(bind: data))").run()
        }
    }

    public func finishBlob(contentId: Int64, blobId: Int64, contentType: String, size: Int64, sha256: String, at: Int64, audit: AuditIntent) async throws {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        try await database.transaction { db in
            // The previous blob, read under the content row's lock (SQLite's write lock is already held).
            let lock = database.engine == .postgres ? " FOR UPDATE" : ""
            guard let current = try await db.raw("SELECT blob_id FROM provision_contents WHERE id = \(bind: contentId)\(unsafeRaw: lock)").first() else {
                throw GatehouseError(.notFound, "the content was deleted during the upload")
            }
            let previous = try current.decode(column: "blob_id", as: Int64?.self)
            // A newer upload that finished first dropped this one: it must not become current.
            guard try await db.raw("SELECT id FROM provision_blobs WHERE id = \(bind: blobId) AND content_id = \(bind: contentId)").first() != nil else {
                throw GatehouseError(.conflict, "a newer upload of this content finished first")
            }
            guard let row = try await db.raw("""
                UPDATE provision_contents SET blob_id = \(bind: blobId), content_type = \(bind: contentType), size = \(bind: size), sha256 = \(bind: sha256),
                    updated_at = \(bind: at)
                WHERE id = \(bind: contentId) RETURNING model_id
                """).first() else { throw GatehouseError(.notFound, "the content was deleted during the upload") }
            // The previous blob goes, and so do older unfinished uploads of this content (newer ones
            // still under way stay: when they finish, they replace this one).
            try await db.raw("""
                DELETE FROM provision_blobs WHERE content_id = \(bind: contentId) AND id <> \(bind: blobId) AND (id < \(bind: blobId) OR id = \(bind: previous ?? 0))
                """).run()
            try await Self.audit(db, at: at, intent: audit, action: "provision.content.upload", targetType: "provision_content", targetId: String(contentId),
                                 tenantId: try await Self.modelVendor(db, try row.decode(column: "model_id", as: Int64.self)))
        }
    }

    public func discardBlob(blobId: Int64) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM provision_blobs WHERE id = \(bind: blobId)").run()
        }
    }

    public func blobChunk(blobId: Int64, seq: Int64) async throws -> ByteBuffer? {
        try await database.withConnection { db in
            try await db.raw("SELECT data FROM provision_blob_chunks WHERE blob_id = \(bind: blobId) AND seq = \(bind: seq)").first()?
                .decode(column: "data", as: ByteBuffer.self)
        }
    }

    public func blobChunkSize(blobId: Int64) async throws -> Int? {
        try await database.withConnection { db in
            try await db.raw("SELECT chunk_size FROM provision_blobs WHERE id = \(bind: blobId)").first()?.decode(column: "chunk_size", as: Int64.self)
        }.map(Int.init)
    }

    // MARK: Groups

    static func group(from row: any SQLRow) throws -> ContentGroup {
        ContentGroup(id: try row.decode(column: "id", as: Int64.self), modelId: try row.decode(column: "model_id", as: Int64.self),
                     name: try row.decode(column: "name", as: String.self), meta: try row.decode(column: "meta", as: String.self),
                     memberCount: try row.decode(column: "members", as: Int64.self))
    }

    static let groupColumns = "g.id, g.model_id, g.name, g.meta, (SELECT COUNT(*) FROM provision_group_members x WHERE x.group_id = g.id) AS members"

    public func createGroup(modelId: Int64, name: String, meta: String, at: Int64, audit: AuditIntent) async throws -> ContentGroup {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        return try await database.transaction { db in
            if try await db.raw("SELECT id FROM provision_groups WHERE model_id = \(bind: modelId) AND name = \(bind: name)").first() != nil {
                throw GatehouseError(.conflict, "group \(name) already exists", field: "id")
            }
            guard let row = try await db.raw("""
                INSERT INTO provision_groups (model_id, name, meta, created_at) VALUES (\(bind: modelId), \(bind: name), \(bind: meta), \(bind: at)) RETURNING id
                """).first() else { throw GatehouseError(.internal, "insert returned no id") }
            let id = try row.decode(column: "id", as: Int64.self)
            try await Self.audit(db, at: at, intent: audit, action: "provision.group.create", targetType: "provision_group", targetId: String(id),
                                 tenantId: try await Self.modelVendor(db, modelId))
            return ContentGroup(id: id, modelId: modelId, name: name, meta: meta, memberCount: 0)
        }
    }

    public func groups(modelId: Int64, offset: Int, limit: Int) async throws -> [ContentGroup] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.groupColumns) FROM provision_groups g WHERE g.model_id = \(bind: modelId) ORDER BY g.name
                LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))
                """).all().map(Self.group(from:))
        }
    }

    public func group(modelId: Int64, name: String) async throws -> ContentGroup? {
        try await database.withConnection { db in
            try await db.raw("SELECT \(unsafeRaw: Self.groupColumns) FROM provision_groups g WHERE g.model_id = \(bind: modelId) AND g.name = \(bind: name)")
                .first().map(Self.group(from:))
        }
    }

    public func deleteGroup(modelId: Int64, name: String, at: Int64, audit: AuditIntent) async throws {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        try await database.transaction { db in
            guard let row = try await db.raw("DELETE FROM provision_groups WHERE model_id = \(bind: modelId) AND name = \(bind: name) RETURNING id").first()
            else { throw GatehouseError.notFound("group", name) }
            try await Self.audit(db, at: at, intent: audit, action: "provision.group.delete", targetType: "provision_group",
                                 targetId: String(try row.decode(column: "id", as: Int64.self)), tenantId: try await Self.modelVendor(db, modelId))
        }
    }

    public func putGroupMembers(groupId: Int64, _ members: [GroupMember], at: Int64, audit: AuditIntent) async throws {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        // A member named twice keeps its last values (PostgreSQL refuses to upsert one row twice in a statement).
        var last: [String: Int] = [:]
        for (index, member) in members.enumerated() { last[member.type + "\u{0}" + member.memberId] = index }
        let members = members.enumerated().filter { last[$0.element.type + "\u{0}" + $0.element.memberId] == $0.offset }.map(\.element)
        try await database.transaction { db in
            for chunk in members.chunked(500) {
                try await db.raw(MultiRowSQL.rows("INSERT INTO provision_group_members (group_id, member_type, member_id, expire, meta) VALUES ", chunk) {
                    [groupId, $0.type, $0.memberId, $0.expire, $0.meta]
                } + " ON CONFLICT (group_id, member_type, member_id) DO UPDATE SET expire = excluded.expire, meta = excluded.meta").run()
            }
            try await Self.audit(db, at: at, intent: audit, action: "provision.group.members", targetType: "provision_group", targetId: String(groupId),
                                 tenantId: nil)
        }
    }

    public func removeGroupMembers(groupId: Int64, _ members: [(type: String, memberId: String)], at: Int64, audit: AuditIntent) async throws {
        // Device content lists cached in this process change with it.
        defer { cache?.invalidateProvisioning() }
        try await database.transaction { db in
            for member in members {
                try await db.raw("""
                    DELETE FROM provision_group_members WHERE group_id = \(bind: groupId) AND member_type = \(bind: member.type) AND member_id = \(bind: member.memberId)
                    """).run()
            }
            try await Self.audit(db, at: at, intent: audit, action: "provision.group.members.remove", targetType: "provision_group", targetId: String(groupId),
                                 tenantId: nil)
        }
    }

    public func groupMembers(groupId: Int64, type: String?, memberId: String?, offset: Int, limit: Int) async throws -> [GroupMember] {
        try await database.withConnection { db in
            var query = SQLQueryString("SELECT member_type, member_id, expire, meta FROM provision_group_members WHERE group_id = \(bind: groupId)")
            if let type { query.appendInterpolation(unsafeRaw: " AND member_type = "); query.appendInterpolation(bind: type) }
            if let memberId { query.appendInterpolation(unsafeRaw: " AND member_id = "); query.appendInterpolation(bind: memberId) }
            query.appendInterpolation(unsafeRaw: " ORDER BY member_type, member_id LIMIT \(limit) OFFSET \(offset)")
            return try await db.raw(query).all().map { row in
                GroupMember(type: try row.decode(column: "member_type", as: String.self), memberId: try row.decode(column: "member_id", as: String.self),
                            expire: try row.decode(column: "expire", as: Int64.self), meta: try row.decode(column: "meta", as: String.self))
            }
        }
    }

    public func memberGroups(modelId: Int64, type: String, memberId: String, offset: Int, limit: Int) async throws -> [String] {
        try await database.withConnection { db in
            try await db.raw("""
                SELECT g.name FROM provision_groups g JOIN provision_group_members x ON x.group_id = g.id
                WHERE g.model_id = \(bind: modelId) AND x.member_type = \(bind: type) AND x.member_id = \(bind: memberId)
                ORDER BY g.name LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))
                """).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }
}
