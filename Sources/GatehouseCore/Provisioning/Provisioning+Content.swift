import Crypto
import NIOCore

extension Provisioning {
    /// The size of the chunks blobs are stored in.
    public static let chunkSize = 1 << 20

    /// Creates a content entry (its blob comes with an upload).
    public func createContent(_ caller: VendorCaller, model name: String, id: String, meta: String, isProtected: Bool) async throws -> ContentItem {
        let model = try await model(caller, name: name)
        let id = try ProvisioningValidation.contentName(id)
        return try await store.createContent(modelId: model.id, name: id, meta: try ProvisioningValidation.text(meta, field: "meta"),
                                             isProtected: isProtected, at: clock.now(), audit: caller.audit(id))
    }

    public func contents(_ caller: VendorCaller, model name: String) async throws -> [ContentItem] {
        try await store.contents(modelId: try await model(caller, name: name).id)
    }

    /// A content entry of a model.
    public func content(_ caller: VendorCaller, model name: String, id: String) async throws -> (model: ProvisionModel, item: ContentItem) {
        let model = try await model(caller, name: name)
        guard let item = try await store.content(modelId: model.id, name: try ProvisioningValidation.contentName(id)) else {
            throw GatehouseError.notFound("content", id)
        }
        return (model, item)
    }

    /// The content a serial of the model may download (the vendor's `?sn=` view).
    public func contents(_ caller: VendorCaller, model name: String, visibleTo sn: String) async throws -> [String] {
        let (model, serial) = try await serial(caller, model: name, sn: sn)
        return try await store.visibleContents(modelId: model.id, sn: serial.sn, at: clock.now())
    }

    /// One content entry, if a serial of the model may download it.
    public func content(_ caller: VendorCaller, model name: String, id: String, visibleTo sn: String) async throws -> ContentItem {
        let (model, serial) = try await serial(caller, model: name, sn: sn)
        guard let item = try await store.contentVisible(modelId: model.id, contentName: try ProvisioningValidation.contentName(id), sn: serial.sn,
                                                        at: clock.now())
        else { throw GatehouseError(.notFound, "serial number \(sn) may not see content \(id)") }
        return item
    }

    public func deleteContent(_ caller: VendorCaller, model name: String, id: String) async throws {
        let (model, item) = try await content(caller, model: name, id: id)
        try await store.deleteContent(modelId: model.id, name: item.name, at: clock.now(), audit: caller.audit(item.name))
    }

    /// Stores an upload as the content's blob, streamed in chunks (never whole in memory),
    /// hashed on the way. The previous blob stays current until the new one is complete;
    /// an upload over ``maxContentBytes`` or one that fails leaves nothing behind.
    public func upload<Body: AsyncSequence>(_ caller: VendorCaller, model name: String, id: String, contentType: String?,
                                                       declaredLength: Int64?, body: Body) async throws -> ContentItem
    where Body.Element == ByteBuffer {
        let (_, item) = try await content(caller, model: name, id: id)
        let type = try ProvisioningValidation.contentType(contentType ?? "application/octet-stream")
        if let declaredLength, declaredLength > maxContentBytes { throw tooLarge }
        let blobId = try await store.beginBlob(contentId: item.id, chunkSize: Self.chunkSize, at: clock.now())
        do {
            var hasher = SHA256()
            var pending = ByteBuffer()
            pending.reserveCapacity(Self.chunkSize)
            var seq: Int64 = 0, size: Int64 = 0
            for try await var buffer in body {
                size += Int64(buffer.readableBytes)
                guard size <= maxContentBytes else { throw tooLarge }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                while buffer.readableBytes > 0 {
                    let take = min(buffer.readableBytes, Self.chunkSize - pending.readableBytes)
                    var slice = buffer.readSlice(length: take)!
                    pending.writeBuffer(&slice)
                    if pending.readableBytes == Self.chunkSize {
                        try await store.appendBlobChunk(blobId: blobId, seq: seq, data: pending)
                        seq += 1
                        pending = ByteBuffer()
                        pending.reserveCapacity(Self.chunkSize)
                    }
                }
            }
            if pending.readableBytes > 0 { try await store.appendBlobChunk(blobId: blobId, seq: seq, data: pending) }
            let digest = Secrets.hex(hasher.finalize())
            try await store.finishBlob(contentId: item.id, blobId: blobId, contentType: type, size: size, sha256: digest, at: clock.now(),
                                       audit: caller.audit("\(item.name) \(size) bytes"))
            var done = item
            (done.blobId, done.contentType, done.size, done.sha256) = (blobId, type, size, digest)
            return done
        } catch {
            try? await store.discardBlob(blobId: blobId)
            throw error
        }
    }

    var tooLarge: GatehouseError { GatehouseError(.payloadTooLarge, "content is limited to \(maxContentBytes) bytes") }

    /// The bytes `first...last` of a content's blob, chunk by chunk, to `write`.
    public func stream(_ item: ContentItem, first: Int64, last: Int64, write: (ByteBuffer) async throws -> Void) async throws {
        guard let blobId = item.blobId, last >= first else { return }
        guard let chunkSize = try await store.blobChunkSize(blobId: blobId).map(Int64.init), chunkSize > 0 else {
            throw GatehouseError.notFound("content", item.name)
        }
        var seq = first / chunkSize
        while seq * chunkSize <= last {
            guard var chunk = try await store.blobChunk(blobId: blobId, seq: seq) else {
                // The blob was replaced or deleted while streaming: stop short (the client sees a short body).
                throw GatehouseError(.conflict, "content \(item.name) changed while it was being read")
            }
            let start = seq * chunkSize
            let from = Int(max(first, start) - start), to = Int(min(last, start + Int64(chunk.readableBytes) - 1) - start)
            guard to >= from, var slice = chunk.getSlice(at: chunk.readerIndex + from, length: to - from + 1) else { break }
            chunk = ByteBuffer()
            try await write(slice)
            slice.clear()
            seq += 1
        }
    }

    // MARK: Groups

    public func groups(_ caller: VendorCaller, model name: String, offset: Int, limit: Int) async throws -> [ContentGroup] {
        try await store.groups(modelId: try await model(caller, name: name).id, offset: offset, limit: limit)
    }

    public func createGroup(_ caller: VendorCaller, model name: String, id: String, meta: String) async throws -> ContentGroup {
        let model = try await model(caller, name: name)
        let id = try ProvisioningValidation.contentName(id)
        return try await store.createGroup(modelId: model.id, name: id, meta: try ProvisioningValidation.text(meta, field: "meta"), at: clock.now(),
                                           audit: caller.audit(id))
    }

    public func group(_ caller: VendorCaller, model name: String, id: String) async throws -> (model: ProvisionModel, group: ContentGroup) {
        let model = try await model(caller, name: name)
        guard let group = try await store.group(modelId: model.id, name: try ProvisioningValidation.contentName(id)) else {
            throw GatehouseError.notFound("group", id)
        }
        return (model, group)
    }

    public func deleteGroup(_ caller: VendorCaller, model name: String, id: String) async throws {
        let (model, group) = try await group(caller, model: name, id: id)
        try await store.deleteGroup(modelId: model.id, name: group.name, at: clock.now(), audit: caller.audit(group.name))
    }

    /// Adds or updates members: serials (`sn`) and content ids (`content`) of the group's model.
    public func putMembers(_ caller: VendorCaller, model name: String, group id: String, _ members: [GroupMember]) async throws {
        let (_, group) = try await group(caller, model: name, id: id)
        guard !members.isEmpty else { throw GatehouseError.invalid("id", "name at least one member") }
        let valid = try members.map { member throws(GatehouseError) -> GroupMember in
            try Self.memberType(member.type)
            let memberId = member.type == "sn" ? try ProvisioningValidation.serial(member.memberId, field: "id")
                                               : try ProvisioningValidation.contentName(member.memberId)
            guard member.expire >= 0 else { throw .invalid("expire", "expire must be a unix time or 0") }
            return GroupMember(type: member.type, memberId: memberId, expire: member.expire, meta: try ProvisioningValidation.text(member.meta, field: "meta"))
        }
        try await store.putGroupMembers(groupId: group.id, valid, at: clock.now(), audit: caller.audit("\(group.name): \(valid.count) members"))
    }

    public func removeMembers(_ caller: VendorCaller, model name: String, group id: String, _ members: [(type: String, memberId: String)]) async throws {
        let (_, group) = try await group(caller, model: name, id: id)
        guard !members.isEmpty else { throw GatehouseError.invalid("id", "name at least one member") }
        for member in members { try Self.memberType(member.type) }
        try await store.removeGroupMembers(groupId: group.id, members, at: clock.now(), audit: caller.audit("\(group.name): \(members.count) members"))
    }

    public func members(_ caller: VendorCaller, model name: String, group id: String, type: String?, memberId: String?, offset: Int, limit: Int) async throws
        -> [GroupMember] {
        let (_, group) = try await group(caller, model: name, id: id)
        if let type { try Self.memberType(type) }
        return try await store.groupMembers(groupId: group.id, type: type, memberId: memberId, offset: offset, limit: limit)
    }

    /// The groups a serial or content id of the model belongs to.
    public func memberGroups(_ caller: VendorCaller, model name: String, type: String, memberId: String, offset: Int, limit: Int) async throws -> [String] {
        let model = try await model(caller, name: name)
        return try await store.memberGroups(modelId: model.id, type: type, memberId: memberId, offset: offset, limit: limit)
    }

    static func memberType(_ type: String) throws(GatehouseError) {
        guard GroupMember.types.contains(type) else { throw .invalid("type", "type must be sn or content") }
    }
}
