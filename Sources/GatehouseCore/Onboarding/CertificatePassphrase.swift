/// The random secrets that protect the private keys onboarding hands out (the `secret` of an
/// onboarding answer): the password of the encrypted PEM key or of the PKCS#12 file.
public enum CertificatePassphrase {
    /// Letters and digits only, so that the secret survives shells, URLs and every PKCS#12 reader.
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A new passphrase of `length` characters (default 32, about 190 bits) from the system CSPRNG.
    public static func generate(length: Int = 32) -> String {
        Secrets.randomString(length: length, alphabet: alphabet)
    }
}
