extension Migrations {
    static let authorizationKeyStatements = portable([
        // The platform's RSA key that signs authorization redirects (seed 004): one row (id 1),
        // the public key as SPKI PEM, the private key sealed with the master key.
        """
        CREATE TABLE authorization_key (
            id $INT PRIMARY KEY,
            public_key_pem TEXT NOT NULL,
            private_key_sealed TEXT NOT NULL,
            created_at $INT NOT NULL)
        """,
    ])

    /// v9: the platform's authorization redirect signing key.
    static let authorizationKey = Migration(version: 9, name: "authorization key", sqlite: authorizationKeyStatements.sqlite,
                                            postgres: authorizationKeyStatements.postgres)
}
