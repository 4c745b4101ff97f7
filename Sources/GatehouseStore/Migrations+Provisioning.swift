extension Migrations {
    static let provisioningStatements = portable([
        // A vendor is a role of a tenant node: the name devices send as `vendor=`.
        """
        CREATE TABLE vendors (
            tenant_id $INT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT NOT NULL UNIQUE,
            created_at $INT NOT NULL)
        """,
        """
        CREATE TABLE vendor_tokens (
            id $ID,
            vendor_id $INT NOT NULL REFERENCES vendors(tenant_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at $INT NOT NULL,
            revoked_at $INT)
        """,
        "CREATE INDEX vendor_tokens_vendor ON vendor_tokens (vendor_id)",
        """
        CREATE TABLE provision_models (
            id $ID,
            vendor_id $INT NOT NULL REFERENCES vendors(tenant_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            activation_window $INT NOT NULL,
            created_at $INT NOT NULL,
            UNIQUE (vendor_id, name))
        """,
        // state: added, enabled, activated or disabled; "expired" is an enabled serial past its window.
        """
        CREATE TABLE provision_serials (
            id $ID,
            model_id $INT NOT NULL REFERENCES provision_models(id) ON DELETE CASCADE,
            sn TEXT NOT NULL,
            extra TEXT NOT NULL,
            state TEXT NOT NULL,
            owner_id $INT REFERENCES tenants(id) ON DELETE SET NULL,
            device_id $INT REFERENCES devices(id) ON DELETE SET NULL,
            enabled_at $INT,
            window_ends_at $INT,
            activated_at $INT,
            cik_hash TEXT,
            created_at $INT NOT NULL,
            UNIQUE (model_id, sn))
        """,
        "CREATE UNIQUE INDEX provision_serials_cik ON provision_serials (cik_hash)",
        "CREATE INDEX provision_serials_owner ON provision_serials (owner_id)",
        """
        CREATE TABLE provision_serial_log (
            id $ID,
            serial_id $INT NOT NULL REFERENCES provision_serials(id) ON DELETE CASCADE,
            at $INT NOT NULL,
            connection TEXT NOT NULL,
            entry TEXT NOT NULL)
        """,
        "CREATE INDEX provision_serial_log_serial ON provision_serial_log (serial_id, id)",
        """
        CREATE TABLE provision_contents (
            id $ID,
            model_id $INT NOT NULL REFERENCES provision_models(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            meta TEXT NOT NULL,
            protected $INT NOT NULL,
            blob_id $INT,
            content_type TEXT,
            size $INT NOT NULL DEFAULT 0,
            sha256 TEXT,
            created_at $INT NOT NULL,
            updated_at $INT NOT NULL,
            UNIQUE (model_id, name))
        """,
        // Uploaded blobs, in chunks; a content entry points at its finished blob.
        """
        CREATE TABLE provision_blobs (
            id $ID,
            content_id $INT NOT NULL REFERENCES provision_contents(id) ON DELETE CASCADE,
            chunk_size $INT NOT NULL,
            created_at $INT NOT NULL)
        """,
        """
        CREATE TABLE provision_blob_chunks (
            blob_id $INT NOT NULL REFERENCES provision_blobs(id) ON DELETE CASCADE,
            seq $INT NOT NULL,
            data $BLOB NOT NULL,
            PRIMARY KEY (blob_id, seq))
        """,
        """
        CREATE TABLE provision_groups (
            id $ID,
            model_id $INT NOT NULL REFERENCES provision_models(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            meta TEXT NOT NULL,
            created_at $INT NOT NULL,
            UNIQUE (model_id, name))
        """,
        // Members of a group: serial numbers (type "sn") and content ids (type "content").
        """
        CREATE TABLE provision_group_members (
            group_id $INT NOT NULL REFERENCES provision_groups(id) ON DELETE CASCADE,
            member_type TEXT NOT NULL,
            member_id TEXT NOT NULL,
            expire $INT NOT NULL,
            meta TEXT NOT NULL,
            PRIMARY KEY (group_id, member_type, member_id))
        """,
        "CREATE INDEX provision_group_members_member ON provision_group_members (member_type, member_id)",
    ])

    /// v6: vendors and their tokens, models, serial numbers with their log, content with
    /// chunked blobs, and groups that limit protected content (seed 003).
    static let provisioning = Migration(
        version: 6, name: "serial provisioning",
        sqlite: provisioningStatements.sqlite.map { $0.replacingOccurrences(of: "$BLOB", with: "BLOB") },
        postgres: provisioningStatements.postgres.map { $0.replacingOccurrences(of: "$BLOB", with: "BYTEA") })
}
