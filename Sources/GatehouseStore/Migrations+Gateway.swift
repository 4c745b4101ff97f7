extension Migrations {
    static let gatewayStatements = portable([
        // A virtual CU onboarded by a telemetry platform names the platform's endpoint.
        "ALTER TABLE onboarded_endpoints ADD COLUMN parent_endpoint_id $INT REFERENCES onboarded_endpoints(id) ON DELETE SET NULL",
        // When the endpoint last sent its capabilities; NULL until it has (the gateway refuses anything else before).
        "ALTER TABLE onboarded_endpoints ADD COLUMN capabilities_at $INT",
        "CREATE INDEX onboarded_endpoints_parent ON onboarded_endpoints (parent_endpoint_id)",
        // What each endpoint declared: direction is SEND, RECEIVE or SEND_RECEIVE.
        """
        CREATE TABLE endpoint_capabilities (
            endpoint_id $INT NOT NULL REFERENCES onboarded_endpoints(id) ON DELETE CASCADE,
            message_type TEXT NOT NULL,
            direction TEXT NOT NULL,
            PRIMARY KEY (endpoint_id, message_type))
        """,
        "CREATE INDEX endpoint_capabilities_type ON endpoint_capabilities (message_type, endpoint_id)",
        // A message routed to one recipient; removed when the recipient fetches it.
        """
        CREATE TABLE gateway_messages (
            id $ID,
            message_id TEXT NOT NULL,
            tenant_id $INT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            sender_endpoint_id $INT NOT NULL REFERENCES onboarded_endpoints(id) ON DELETE CASCADE,
            recipient_endpoint_id $INT NOT NULL REFERENCES onboarded_endpoints(id) ON DELETE CASCADE,
            message_type TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at $INT NOT NULL)
        """,
        "CREATE INDEX gateway_messages_recipient ON gateway_messages (recipient_endpoint_id, id)",
        "CREATE INDEX gateway_messages_sender ON gateway_messages (sender_endpoint_id)",
    ])

    /// v8: the REST gateway of signed onboarding: endpoints' capabilities, routed messages and
    /// virtual CUs onboarded by a telemetry platform.
    static let gateway = Migration(version: 8, name: "gateway", sqlite: gatewayStatements.sqlite, postgres: gatewayStatements.postgres)
}
