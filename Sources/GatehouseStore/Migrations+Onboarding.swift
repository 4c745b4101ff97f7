extension Migrations {
    static let onboardingStatements = portable([
        // An application (seed 004's endpoint software) of a developer's node; redirect_urls is a JSON array of strings.
        """
        CREATE TABLE onboarding_applications (
            id $ID,
            application_id TEXT NOT NULL UNIQUE,
            tenant_id $INT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            public_key_pem TEXT,
            redirect_urls TEXT NOT NULL,
            created_at $INT NOT NULL,
            updated_at $INT NOT NULL)
        """,
        "CREATE INDEX onboarding_applications_tenant ON onboarding_applications (tenant_id)",
        // status: draft, certified or withdrawn; cu_onboarding 0 or 1.
        """
        CREATE TABLE certification_versions (
            id $ID,
            version_id TEXT NOT NULL UNIQUE,
            application_id $INT NOT NULL REFERENCES onboarding_applications(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            cu_onboarding $INT NOT NULL,
            created_at $INT NOT NULL)
        """,
        "CREATE INDEX certification_versions_application ON certification_versions (application_id)",
        // An account's public id (`accountId`), made on first use.
        """
        CREATE TABLE onboarding_accounts (
            tenant_id $INT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
            account_uuid TEXT NOT NULL UNIQUE)
        """,
        // Registration codes, kept by hash; application_id is set for codes from an application's authorization.
        """
        CREATE TABLE registration_codes (
            id $ID,
            code_hash TEXT NOT NULL UNIQUE,
            tenant_id $INT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            user_id $INT REFERENCES users(id) ON DELETE SET NULL,
            application_id $INT REFERENCES onboarding_applications(id) ON DELETE CASCADE,
            expires_at $INT NOT NULL,
            used_at $INT,
            created_at $INT NOT NULL)
        """,
        "CREATE INDEX registration_codes_expires ON registration_codes (expires_at)",
        "CREATE INDEX registration_codes_tenant ON registration_codes (tenant_id)",
        // Fingerprints of signed requests seen inside the timestamp window (replay protection).
        """
        CREATE TABLE signed_requests (
            fingerprint TEXT PRIMARY KEY,
            expires_at $INT NOT NULL)
        """,
        "CREATE INDEX signed_requests_expires ON signed_requests (expires_at)",
        // One endpoint per account, application and external id; a revoked one keeps its row
        // (without a device) and is reused when the external id is onboarded again.
        // status: active, revoked or blocked.
        """
        CREATE TABLE onboarded_endpoints (
            id $ID,
            device_id $INT REFERENCES devices(id) ON DELETE SET NULL,
            tenant_id $INT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            application_id $INT NOT NULL REFERENCES onboarding_applications(id) ON DELETE CASCADE,
            certification_version_id $INT NOT NULL REFERENCES certification_versions(id) ON DELETE CASCADE,
            external_id TEXT NOT NULL,
            gateway TEXT NOT NULL,
            device_alternate_id TEXT NOT NULL UNIQUE,
            capability_alternate_id TEXT NOT NULL,
            sensor_alternate_id TEXT NOT NULL,
            certificate_serial TEXT,
            status TEXT NOT NULL,
            created_at $INT NOT NULL,
            updated_at $INT NOT NULL,
            UNIQUE (tenant_id, application_id, external_id))
        """,
        "CREATE INDEX onboarded_endpoints_application ON onboarded_endpoints (application_id, status)",
        "CREATE INDEX onboarded_endpoints_version ON onboarded_endpoints (certification_version_id)",
        "CREATE INDEX onboarded_endpoints_device ON onboarded_endpoints (device_id)",
    ])

    /// v7: signed onboarding (seed 004): applications with certification versions, accounts'
    /// public ids, registration codes, seen signed requests and onboarded endpoints.
    static let onboarding = Migration(version: 7, name: "onboarding", sqlite: onboardingStatements.sqlite, postgres: onboardingStatements.postgres)
}
