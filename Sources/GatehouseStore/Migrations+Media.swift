extension Migrations {
    static let mediaStatements = portable([
        // Images and clips devices upload to their channel. A row is `uploading` while its
        // chunks arrive and becomes `stored` (counted against the storage limits, listed) in the
        // transaction that checks those limits; unfinished rows are removed by maintenance.
        """
        CREATE TABLE media_items (
            id $ID,
            device_id $INT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
            tenant_id $INT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            at $INT NOT NULL,
            duration $INT,
            content_type TEXT NOT NULL,
            size $INT NOT NULL DEFAULT 0,
            sha256 TEXT,
            state TEXT NOT NULL,
            chunk_size $INT NOT NULL,
            created_at $INT NOT NULL)
        """,
        "CREATE INDEX media_items_device ON media_items (device_id, kind, state, at, id)",
        "CREATE INDEX media_items_state ON media_items (state, created_at)",
        """
        CREATE TABLE media_chunks (
            media_id $INT NOT NULL REFERENCES media_items(id) ON DELETE CASCADE,
            seq $INT NOT NULL,
            data $BLOB NOT NULL,
            PRIMARY KEY (media_id, seq))
        """,
        // 1 when the channel was made for a device that existed before it (an agent camera, a
        // serial device, an endpoint): deleting the channel then keeps the device.
        "ALTER TABLE channels ADD COLUMN attached $INT NOT NULL DEFAULT 0",
        // The account's live-video URL templates (JSON object of name → template), or NULL.
        "ALTER TABLE tiered_accounts ADD COLUMN live_url_templates TEXT",
    ])

    /// v11: images and clips of channels (chunked like provisioning blobs), channels attached to
    /// existing devices, and live-video URL templates of license-key accounts (issue 9 points 4, 5).
    static let media = Migration(
        version: 11, name: "media",
        sqlite: mediaStatements.sqlite.map { $0.replacingOccurrences(of: "$BLOB", with: "BLOB") },
        postgres: mediaStatements.postgres.map { $0.replacingOccurrences(of: "$BLOB", with: "BYTEA") })
}
