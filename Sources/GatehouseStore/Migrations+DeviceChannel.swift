extension Migrations {
    static let deviceChannelStatements = portable([
        // Every running node's heartbeat: a node that stopped beating no longer counts its devices online.
        """
        CREATE TABLE channel_nodes (
            node_id TEXT PRIMARY KEY,
            heartbeat_at $INT NOT NULL)
        """,
        // A device's one open channel and the credential that opened it (checked again while it stays open).
        """
        CREATE TABLE device_connections (
            device_id $INT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
            tenant_id $INT NOT NULL,
            connection_id TEXT NOT NULL,
            node_id TEXT NOT NULL,
            credential_kind TEXT NOT NULL,
            credential_ref $INT NOT NULL,
            credential_check TEXT NOT NULL,
            agent_version TEXT,
            connected_at $INT NOT NULL,
            last_seen_at $INT NOT NULL)
        """,
        "CREATE INDEX device_connections_node ON device_connections (node_id)",
        "CREATE INDEX device_connections_tenant ON device_connections (tenant_id, device_id)",
        // Desired and reported settings documents (JSON text) with the desired version.
        """
        CREATE TABLE device_settings (
            device_id $INT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
            desired TEXT NOT NULL,
            desired_version $INT NOT NULL,
            desired_at $INT,
            reported TEXT,
            reported_version $INT,
            reported_error TEXT,
            reported_at $INT)
        """,
        // Commands: queued, sent, succeeded, failed or timed_out.
        """
        CREATE TABLE device_commands (
            id $ID,
            command_id TEXT NOT NULL UNIQUE,
            device_id $INT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
            tenant_id $INT NOT NULL,
            name TEXT NOT NULL,
            params TEXT NOT NULL,
            state TEXT NOT NULL,
            result TEXT,
            error TEXT,
            created_by TEXT NOT NULL,
            created_at $INT NOT NULL,
            expires_at $INT NOT NULL,
            sent_at $INT,
            finished_at $INT)
        """,
        "CREATE INDEX device_commands_device ON device_commands (device_id, id)",
        "CREATE INDEX device_commands_open ON device_commands (state, expires_at)",
        // A vendor's settings schema for one of its provisioning models.
        """
        CREATE TABLE settings_schemas (
            model_id $INT PRIMARY KEY REFERENCES provision_models(id) ON DELETE CASCADE,
            schema_json TEXT NOT NULL,
            updated_at $INT NOT NULL)
        """,
    ])

    /// v10: the device channel: nodes, open connections, settings documents, commands and
    /// per-model settings schemas.
    static let deviceChannel = Migration(version: 10, name: "device channel", sqlite: deviceChannelStatements.sqlite, postgres: deviceChannelStatements.postgres)
}
