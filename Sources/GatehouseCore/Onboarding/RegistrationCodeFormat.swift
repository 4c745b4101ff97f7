extension Onboarding {
    /// Random bytes in a registration code; the code is their lower-case hex (10 characters, 40 bits).
    public static let registrationCodeBytes = 5
}
