import GatehouseCore
import SQLKit

/// The REST gateway of signed onboarding: endpoints' capabilities and the messages routed between
/// the endpoints of an account.
extension SQLStore: GatewayStore {
    public func deliver(from sender: OnboardedEndpoint, capabilities: [EndpointCapability]?, messages: [OutgoingMessage], at: Int64) async throws -> [Int] {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            // The sender's row first: revoked meanwhile means nothing is written. On PostgreSQL
            // this also orders concurrent capability changes of the same endpoint.
            guard try await db.raw("""
                SELECT id FROM onboarded_endpoints WHERE id = \(bind: sender.id) AND status = 'active'\(unsafeRaw: lock)
                """).first() != nil else { throw GatehouseError(.endpointCertificate, "the endpoint is gone") }
            if let capabilities {
                try await db.raw("DELETE FROM endpoint_capabilities WHERE endpoint_id = \(bind: sender.id)").run()
                for chunk in capabilities.chunked(200) where !chunk.isEmpty {
                    try await db.raw(MultiRowSQL.rows("INSERT INTO endpoint_capabilities (endpoint_id, message_type, direction) VALUES ", chunk) {
                        [sender.id, $0.messageType, $0.direction.rawValue]
                    }).run()
                }
                try await db.raw("UPDATE onboarded_endpoints SET capabilities_at = \(bind: at) WHERE id = \(bind: sender.id)").run()
            }
            var counts: [Int] = []
            for message in messages {
                let routed = try await db.raw("""
                    INSERT INTO gateway_messages (message_id, tenant_id, sender_endpoint_id, recipient_endpoint_id, message_type, content, created_at)
                    SELECT \(bind: message.messageId), e.tenant_id, \(bind: sender.id), e.id, \(bind: message.messageType), \(bind: message.content), \(bind: at)
                    FROM onboarded_endpoints e JOIN endpoint_capabilities c ON c.endpoint_id = e.id
                    WHERE e.tenant_id = \(bind: sender.tenantId) AND e.status = 'active' AND e.id <> \(bind: sender.id)
                        AND c.message_type = \(bind: message.messageType) AND c.direction IN ('RECEIVE', 'SEND_RECEIVE')
                    RETURNING id
                    """).all()
                counts.append(routed.count)
            }
            return counts
        }
    }

    public func capabilities(endpointId: Int64) async throws -> [EndpointCapability] {
        try await database.withConnection { db in
            try await db.raw("SELECT message_type, direction FROM endpoint_capabilities WHERE endpoint_id = \(bind: endpointId) ORDER BY message_type")
                .all().compactMap { row in
                    CapabilityDirection(rawValue: try row.decode(column: "direction", as: String.self)).map {
                        EndpointCapability(messageType: (try? row.decode(column: "message_type", as: String.self)) ?? "", direction: $0)
                    }
                }
        }
    }

    public func takeMessages(recipientEndpointId: Int64, limit: Int) async throws -> [GatewayMessage] {
        // PostgreSQL: two fetches of the same endpoint at once hand out different messages.
        let lock = database.engine == .postgres ? " FOR UPDATE OF m SKIP LOCKED" : ""
        return try await database.transaction { db in
            let rows = try await db.raw("""
                SELECT m.id, m.message_id, m.message_type, m.content, m.created_at, s.device_alternate_id AS sender
                FROM gateway_messages m JOIN onboarded_endpoints s ON s.id = m.sender_endpoint_id
                WHERE m.recipient_endpoint_id = \(bind: recipientEndpointId)
                ORDER BY m.id LIMIT \(unsafeRaw: String(max(limit, 1)))\(unsafeRaw: lock)
                """).all()
            guard !rows.isEmpty else { return [] }
            let ids = try rows.map { String(try $0.decode(column: "id", as: Int64.self)) }.joined(separator: ", ")
            try await db.raw("DELETE FROM gateway_messages WHERE id IN (\(unsafeRaw: ids))").run()
            return try rows.map { row in
                GatewayMessage(messageId: try row.decode(column: "message_id", as: String.self), messageType: try row.decode(column: "message_type", as: String.self),
                               senderId: try row.decode(column: "sender", as: String.self), content: try row.decode(column: "content", as: String.self),
                               createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
        }
    }

    public func purgeMessages(before: Int64) async throws -> Int {
        try await database.write { db in
            try await db.raw("DELETE FROM gateway_messages WHERE created_at < \(bind: before) RETURNING id").all().count
        }
    }
}
